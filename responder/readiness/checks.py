"""The readiness checks: a valid playbook, an active contact (or a rota) for every role, no rota gaps in
the next 14 days, an owner with a contact for every deadline, phone calls set up where the playbook
phones a rung, and the last call-out test's results.

Each problem says where it is fixed (a page, or the playbook file).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app

from responder.clock import now_utc
from responder.directory.contacts import active_role_keys
from responder.links import public_url
from responder.models import LOCAL_AUTHORITIES
from responder.playbooks import PlaybookError, PlaybookSet, load_playbooks
from responder.rotas.coverage import find_gaps, roles_with_rotas
from responder.rotas.roles import local_roles

GAP_DAYS = 14
# Where problems are fixed (admins): the contact directory, the rotas.
CONTACTS_PAGE = "/admin/contacts"
ROTAS_PAGE = "/admin/rotas"


class ProblemKind(enum.StrEnum):
    PLAYBOOK = "playbook"  # the playbook does not validate
    NO_CONTACT = "no_contact"  # a role with no active contact and no rota
    ROTA_GAP = "rota_gap"  # nobody on duty on a rota in the next 14 days
    DEADLINE_OWNER = "deadline_owner"  # a deadline tells a role with no contact and no rota
    CALLOUT = "callout"  # the last call-out test: failed or unconfirmed contacts
    CALLS_OFF = "calls_off"  # the playbook phones rungs, but no voice provider is set up

    @property
    def label(self) -> str:
        return {
            ProblemKind.PLAYBOOK: "Playbook",
            ProblemKind.NO_CONTACT: "No contact",
            ProblemKind.ROTA_GAP: "Rota gap",
            ProblemKind.DEADLINE_OWNER: "Deadline owner",
            ProblemKind.CALLOUT: "Call-out test",
            ProblemKind.CALLS_OFF: "Phone calls off",
        }[self]


@dataclass(frozen=True)
class Problem:
    local_authority: str
    kind: ProblemKind
    message: str
    fix_url: str | None = None  # the page where it is fixed (a path)
    fix_hint: str = ""  # or, for a file, what to do

    def line(self) -> str:
        """``LOCAL_AUTHORITY: kind: message (fix: where)`` for the command line."""
        where = self.fix_hint or (public_url(self.fix_url) if self.fix_url else "")
        return f"{self.local_authority}: {self.kind.label.lower()}: {self.message}" + (
            f" (fix: {where})" if where else ""
        )


@dataclass
class Readiness:
    local_authority: str
    name: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems

    def of_kind(self, kind: ProblemKind) -> list[Problem]:
        return [problem for problem in self.problems if problem.kind == kind]


def readiness(local_authority: str | None = None) -> list[Readiness]:
    """Each local authority's readiness (or one's), in name order. Needs an app (and request) context."""
    areas = [local_authority] if local_authority else sorted(LOCAL_AUTHORITIES)
    playbooks, invalid = _playbooks()
    filled = active_role_keys() | roles_with_rotas()
    now = now_utc()
    gaps = find_gaps(now, now + timedelta(days=GAP_DAYS))
    results = []
    for slug in areas:
        result = Readiness(slug, LOCAL_AUTHORITIES.get(slug, slug))
        result.problems += [p for p in invalid if p.local_authority in (slug, "regional")]
        if playbooks is not None and slug not in playbooks.playbooks:
            result.problems.append(
                Problem(
                    slug,
                    ProblemKind.PLAYBOOK,
                    f"there is no playbook for {slug}",
                    fix_hint="add playbooks/" + slug + ".yaml",
                )
            )
        elif playbooks is not None:
            result.problems += _role_problems(slug, playbooks, filled, gaps)
            result.problems += _calls_problems(slug, playbooks)
        result.problems += callout_problems(slug)
        results.append(result)
    return results


def callout_problems(local_authority: str) -> list[Problem]:
    """The last call-out test of ``local_authority``: one problem per person who failed it or never
    confirmed, and has not confirmed since (responder.callouts), fixed from the test's report."""
    from responder.callouts.results import contacts_not_confirmed

    unconfirmed = contacts_not_confirmed(local_authority).get(local_authority, [])
    if not unconfirmed:
        return []
    report = f"/admin/callouts/{unconfirmed[0].test_id}"
    problems = []
    for person in unconfirmed:
        roles = ", ".join(person.role_labels) or ", ".join(person.roles)
        what = f"the number failed ({person.reason})" if person.reason else "never confirmed their number"
        problems.append(
            Problem(
                local_authority,
                ProblemKind.CALLOUT,
                f"{person.name} ({roles}): {what} in the last call-out test",
                fix_url=report,
            )
        )
    return problems


def _calls_problems(slug: str, playbooks: PlaybookSet) -> list[Problem]:
    """The playbook phones some rungs, but this deployment places no calls: they would only be texted."""
    from responder.notify.backends import voice_backend

    phoned = [rung for step in playbooks.playbooks[slug].steps if step.do == "alert" for rung in step.call]
    if not phoned or voice_backend(current_app.config) != "off":
        return []
    rungs = ", ".join(rung.replace("_", " ") for rung in phoned)
    return [
        Problem(
            slug,
            ProblemKind.CALLS_OFF,
            f"the playbook phones the {rungs}, but phone calls are off, so they are only texted",
            fix_hint="set TWILIO_VOICE_FROM to a number that can place calls (or VOICE_BACKEND)",
        )
    ]


def _playbooks() -> tuple[PlaybookSet | None, list[Problem]]:
    """The playbooks as they are on disk now, or the problems that stop them loading (by area)."""
    directory = current_app.config["PLAYBOOKS_DIR"]
    try:
        return load_playbooks(directory), []
    except PlaybookError as error:
        problems = []
        for found in error.problems:
            area = _area_of(found.file)
            problems.append(
                Problem(
                    area,
                    ProblemKind.PLAYBOOK,
                    str(found),
                    fix_hint=f"edit {found.file}, then run `flask --app wsgi playbooks check`",
                )
            )
        return None, problems


def _area_of(file: str) -> str:
    stem = file.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem if stem in LOCAL_AUTHORITIES else "regional"


def _role_problems(slug: str, playbooks: PlaybookSet, filled: set[str], gaps) -> list[Problem]:
    roles = local_roles(playbooks, slug)
    contacts = CONTACTS_PAGE
    problems = [
        Problem(
            slug,
            ProblemKind.NO_CONTACT,
            f"{role}: no active contact and no rota: alerts for it cannot be sent",
            fix_url=contacts,
        )
        for role in roles.escalation
        if role not in filled
    ]
    mine = set(roles.escalation) | {role for _name, role in roles.deadline_owners}
    problems += [
        Problem(
            slug,
            ProblemKind.ROTA_GAP,
            gap.line() + (f" (falls back to {gap.fallback.key})" if gap.fallback is not None else ""),
            fix_url=f"{ROTAS_PAGE}#rota-{gap.role}",
        )
        for gap in gaps
        if gap.role in mine
    ]
    problems += [
        Problem(
            slug,
            ProblemKind.DEADLINE_OWNER,
            f"the deadline {name!r} tells {role}, which has no active contact and no rota",
            fix_url=contacts,
        )
        for name, role in roles.deadline_owners
        if role not in filled
    ]
    return problems

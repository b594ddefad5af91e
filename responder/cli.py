"""Command line: `flask --app wsgi <group> <command>` (design section 4)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from responder.links import public_url
from responder.models import IncidentType, Role, Tension
from responder.unit_of_work import committed, discard_changes, unit_of_work


def register(app: Flask) -> None:
    app.cli.add_command(playbooks_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(contacts_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(retention_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(providers_cli)
    app.cli.add_command(callout_cli)
    app.cli.add_command(rota_cli)
    app.cli.add_command(readiness_cli)


# --- playbooks ---------------------------------------------------------------

playbooks_cli = click.Group("playbooks", help="Check playbooks and preview what they activate.")


@playbooks_cli.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option(
    "--strict", is_flag=True, help="Also fail on contacts who did not confirm their last call-out test."
)
def playbooks_check(directory: str | None, strict: bool) -> None:
    """Validate playbooks; print FILE:LINE: field.path: message per problem (exit 1)."""
    from responder.directory.contacts import active_role_keys
    from responder.playbooks import PlaybookError, load_playbooks, roles_without_contacts
    from responder.rotas.coverage import roles_with_rotas

    directory = directory or current_app.config["PLAYBOOKS_DIR"]
    try:
        playbooks = load_playbooks(directory)
    except PlaybookError as error:
        for problem in error.problems:
            click.echo(str(problem))
        click.echo(f"{len(error.problems)} problem(s) found.", err=True)
        sys.exit(1)
    try:
        keys = active_role_keys()
        gaps = _rota_gaps(days=14)
        keys |= roles_with_rotas()
    except SQLAlchemyError:
        discard_changes()
        keys, gaps = None, []
    problems = []
    if not keys:
        click.echo(
            "note: the contact directory is empty (or not migrated); role coverage not checked.", err=True
        )
    else:
        problems = roles_without_contacts(playbooks, keys)
        if strict:
            from responder.callouts.results import unconfirmed_roles

            problems += unconfirmed_roles(playbooks)
        for problem in problems:
            click.echo(str(problem))
    # Gaps are warnings here (`rota check` fails on them): a gap falls back to the fixed contact or the next rung.
    for gap in gaps:
        click.echo(f"warning: {gap.line()}", err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found.", err=True)
        sys.exit(1)
    click.echo(
        f"ok: {len(playbooks.playbooks)} local authority playbooks and regional.yaml are valid"
        + ("" if not keys else "; every role has an active contact or a rota")
        + ("; every contact confirmed their last call-out test" if strict and keys else "")
    )


@playbooks_cli.command("plan")
@click.argument("local_authority")
@click.option("--type", "type_", required=True, type=click.Choice([t.value for t in IncidentType]))
@click.option("--school-link", is_flag=True, help="A school is linked to someone involved.")
@click.option("--youngest-age", type=click.IntRange(0, 120), default=None)
@click.option("--tension", type=click.Choice([t.value for t in Tension]), default="medium", show_default=True)
def playbooks_plan(
    local_authority: str, type_: str, school_link: bool, youngest_age: int | None, tension: str
) -> None:
    """Print what an incident would activate, opening nothing."""
    from responder.playbooks import IncidentFacts, plan_response
    from responder.playbooks.registry import current_playbooks

    playbooks = current_playbooks()
    if local_authority not in playbooks.playbooks:
        raise click.BadParameter(
            f"no playbook for {local_authority!r}; choose from {', '.join(sorted(playbooks.playbooks))}",
            param_hint="LOCAL_AUTHORITY",
        )
    facts = IncidentFacts(type=type_, school_link=school_link, youngest_age=youngest_age, tension=tension)
    plan = plan_response(playbooks, local_authority, facts)
    click.echo(
        f"{plan.playbook.name} ({plan.playbook.code}): {type_}, "
        f"school link {'yes' if school_link else 'no'}, "
        f"youngest age {youngest_age if youngest_age is not None else 'not known'}, tension {tension}"
    )
    click.echo(f"\nAgencies ({len(plan.agencies)}):")
    for agency in plan.agencies:
        deputy = f", deputy {agency.deputy}" if agency.deputy else ""
        click.echo(f"  {agency.key:<34} {agency.name} [lead {agency.lead}{deputy}]")
    click.echo(f"\nSupport offers ({len(plan.offers)}):")
    for offer in plan.offers:
        click.echo(f"  {offer.key:<34} {offer.name} (by {offer.provider})")
    click.echo(f"\nTimed steps ({len(plan.steps)}):")
    for step in plan.steps:
        click.echo(f"  at {step.at!s:<5} {_describe_step(step)}")


def _describe_step(step) -> str:
    if step.do == "alert":
        every = step.escalate_every or step.ack_within
        return (
            f"alert every lead; acknowledge within {step.ack_within.describe()}, "
            f"escalating every {every.describe()}"
        )
    if step.do == "check_in":
        return "check-in with every covering agency"
    remind = f"; reminder {step.remind_before.describe()} before" if step.remind_before else ""
    return f"deadline: {step.name} (tell {step.notify}{remind})"


# --- rotas -------------------------------------------------------------------

rota_cli = click.Group("rota", help="Rotas: who is on duty in a role, imported from calendars and CSV.")
CALENDAR_SUFFIXES = (".ics", ".ical", ".icalendar")


@rota_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--role", default=None, metavar="KEY", help="The role an .ics file fills (a CSV names its roles)."
)
def rota_import(file: Path, role: str | None) -> None:
    """Import FILE.ics --role KEY, or FILE.csv (role,contact,start,end). Good rows are kept.

    Bad rows are printed as FILE:LINE: field: message (exit 1); a fatal error
    imports nothing from the file.
    """
    from responder.rotas.importing import RotaImportError, import_calendar, import_csv

    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{file}:1: file: not UTF-8 text; nothing imported") from None
    calendar = file.suffix.lower() in CALENDAR_SUFFIXES
    if calendar and not role:
        raise click.UsageError("an .ics file fills one role: give it with --role KEY")
    if not calendar and file.suffix.lower() != ".csv":
        raise click.UsageError(f"{file}: expected an .ics or a .csv file")
    if not calendar and role:
        raise click.UsageError("a CSV names the role of each row in its role column: leave out --role")
    try:
        with unit_of_work():
            result = import_calendar(text, str(file), role) if calendar else import_csv(text, str(file))
    except RotaImportError as error:
        for problem in error.problems:
            click.echo(problem)
        click.echo("nothing imported", err=True)
        sys.exit(1)
    for problem in result.problems:
        click.echo(problem)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    imported = ", ".join(f"{key}: {count} shift(s)" for key, count in result.shifts.items()) or "no shifts"
    click.echo(f"{imported}; {result.replaced} replaced; {len(result.problems)} rejected")
    if result.problems:
        sys.exit(1)


@rota_cli.command("check")
@click.option("--days", type=click.IntRange(1, 366), default=14, show_default=True, help="How far ahead.")
def rota_check(days: int) -> None:
    """Print every gap in a rota (ROLE: from - to: nobody on duty); exit 1 if there is one."""
    from responder.rotas.coverage import roles_with_rotas

    gaps = _rota_gaps(days)
    for gap in gaps:
        click.echo(gap.line())
    if gaps:
        click.echo(f"{len(gaps)} gap(s) in the next {days} days", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(roles_with_rotas())} rota(s), someone on duty throughout the next {days} days")


@rota_cli.command("extend")
@committed
def rota_extend() -> None:
    """Expand every calendar rota's recurring shifts ROTA_WINDOW_DAYS ahead (the scheduler does this nightly)."""
    from responder.rotas.importing import extend_calendar_rotas

    for line in extend_calendar_rotas():
        click.echo(line)


def _rota_gaps(days: int):
    from datetime import timedelta

    from responder.clock import now_utc
    from responder.rotas.coverage import find_gaps

    now = now_utc()
    return find_gaps(now, now + timedelta(days=days))


# --- readiness ---------------------------------------------------------------

readiness_cli = click.Group("readiness", help="Each local authority's readiness before anything happens.")


@readiness_cli.command("check")
@click.argument("local_authority", required=False)
def readiness_check(local_authority: str | None) -> None:
    """Playbook, contacts, rota gaps (14 days), deadline owners, call-out results; exit 1 on a problem."""
    from responder.models import LOCAL_AUTHORITIES
    from responder.readiness import readiness

    if local_authority is not None and local_authority not in LOCAL_AUTHORITIES:
        raise click.BadParameter(
            f"no local authority {local_authority!r}; choose from {', '.join(sorted(LOCAL_AUTHORITIES))}",
            param_hint="LOCAL_AUTHORITY",
        )
    results = readiness(local_authority)
    for result in results:
        if result.ready:
            click.echo(f"{result.local_authority}: ready")
        for problem in result.problems:
            click.echo(problem.line())
    problems = sum(len(result.problems) for result in results)
    if problems:
        click.echo(f"{problems} problem(s) found.", err=True)
        sys.exit(1)


# --- users -------------------------------------------------------------------

users_cli = click.Group("users", help="Staff accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", default=None)
@click.option(
    "--local-authority",
    "local_authorities",
    multiple=True,
    metavar="KEY",
    help="Limit an officer to this local authority (repeat for several); without it, all of them.",
)
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@committed
def users_create(
    email: str, role: str, name: str | None, local_authorities: tuple[str, ...], password_stdin: bool
) -> None:
    """Create a staff user; the password is read from standard input."""
    from responder.accounts.users import UserError, create_user

    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = create_user(
            email, role, password, name=name, local_authorities=list(local_authorities) or None
        )
    except UserError as error:
        raise click.ClickException(str(error)) from None
    areas = f", limited to {', '.join(user.local_authorities)}" if user.local_authorities else ""
    click.echo(f"created {user.role} {user.email}{areas}")


@users_cli.command("token")
@click.argument("email")
@click.option(
    "--expires-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Days until the token stops working (default API_TOKEN_DAYS, 90).",
)
@committed
def users_token(email: str, expires_days: int | None) -> None:
    """Print a new API bearer token for EMAIL (shown once; only its hash is kept). Every token expires."""
    from datetime import timedelta

    from responder.accounts.users import find_user, issue_api_token

    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    days = expires_days or current_app.config["API_TOKEN_DAYS"]
    click.echo(issue_api_token(user, timedelta(days=days)))
    click.echo(f"expires in {days} days", err=True)


# --- contacts ----------------------------------------------------------------

contacts_cli = click.Group("contacts", help="The contact directory.")


@contacts_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def contacts_import(file: Path) -> None:
    """Import FILE.csv (key,name,phone,email,local_authority). Good rows are kept."""
    from responder.directory.contacts import import_contacts

    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{file}:1: file: not UTF-8 text") from None
    with unit_of_work():
        result = import_contacts(text, str(file))
    for problem in result.problems:
        click.echo(problem)
    click.echo(
        f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged, "
        f"{len(result.problems)} rejected"
    )
    if result.problems:
        sys.exit(1)


# --- demo --------------------------------------------------------------------

demo_cli = click.Group("demo", help="Demonstration data (development only).")


@demo_cli.command("seed")
@committed
def demo_seed() -> None:
    """Load the demo contact directory, demo users and rotas. Safe to run again."""
    from responder.demo import DEMO_USERS, seed_demo, seed_demo_rotas

    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("demo seed is for development only")
    result, created = seed_demo()
    click.echo(
        f"demo contacts: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
    )
    for problem in result.problems:
        click.echo(problem)
    click.echo("demo rotas: " + "; ".join(seed_demo_rotas()))
    click.echo(f"demo users created: {', '.join(created) if created else 'none (already there)'}")
    click.echo("\nSign in at " + public_url("/login") + " with:")
    for email, role, _name, password in DEMO_USERS:
        click.echo(f"  {role:<8} {email:<22} password: {password}")


# --- outbox ------------------------------------------------------------------

outbox_cli = click.Group("outbox", help="Messages waiting to be sent.")


@outbox_cli.command("sweep")
def outbox_sweep() -> None:
    """Send every message that is due now (left by a crash, or due a retry) and wait for the result."""
    from responder.notify.backends import ConfigurationError
    from responder.notify.dispatcher import sweep_outbox

    try:
        report = sweep_outbox(current_app._get_current_object())
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None
    click.echo(str(report))


providers_cli = click.Group("providers", help="The SMS and email providers Responder sends through.")


@providers_cli.command("check")
def providers_check() -> None:
    """An authenticated call with no side effect to each configured provider; exit 1 if any fails."""
    from responder.operations.provider_checks import ConfigurationError, check_providers

    try:
        checks = check_providers(current_app.config)
    except ConfigurationError as error:
        click.echo(f"FAILED settings: {error}")
        sys.exit(1)
    for check in checks:
        click.echo(check.line())
    if not all(check.ok for check in checks):
        sys.exit(1)


# --- call-out tests ------------------------------------------------------------

callout_cli = click.Group("callout", help="Call-out tests: does every role holder's number reach them?")


@callout_cli.command("test")
@click.argument("local_authority")
@committed
def callout_test(local_authority: str) -> None:
    """Text every role holder in LOCAL_AUTHORITY's playbook a test to confirm (24 hours to answer)."""
    from responder.callouts import CalloutError, start_test

    try:
        test = start_test(local_authority)
    except CalloutError as error:
        raise click.ClickException(str(error)) from None
    roles = sum(len(recipient.roles) for recipient in test.recipients)
    click.echo(
        f"call-out test {test.id} of {local_authority}: {len(test.recipients)} people texted "
        f"for {roles} roles; {len(test.untested_roles)} roles have nobody to test"
    )
    for role in test.untested_roles:
        click.echo(f"  nobody to test: {role['label']} ({role['role']})")
    click.echo("results: " + public_url(f"/admin/callouts/{test.id}"))


@callout_cli.command("report")
@click.argument("local_authority")
def callout_report(local_authority: str) -> None:
    """Print the last call-out test of LOCAL_AUTHORITY, role by role."""
    from responder.callouts import latest_tests, report
    from responder.web.filters import duration

    test = latest_tests(local_authority).get(local_authority)
    if test is None:
        raise click.ClickException(f"{local_authority} has had no call-out test")
    result = report(test)
    state = "final" if result.finished else "running"
    click.echo(
        f"call-out test {test.id} of {local_authority}, started {test.started_at:%Y-%m-%d %H:%M} UTC ({state})"
    )
    for row in result.rows:
        detail = f" after {duration(row.took)}" if row.took is not None else ""
        detail += f": {row.reason}" if row.reason else ""
        click.echo(f"  {row.status.label:<30} {row.role:<28} {row.name}{detail}")


# --- scheduler ---------------------------------------------------------------

scheduler_cli = click.Group("scheduler", help="Timed actions: escalations, check-ins, reminders, deadlines.")


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the scheduler until stopped (production: web workers run with SCHEDULER=off).

    Start a second one anywhere as a standby: it takes over within
    SCHEDULER_LEASE_SECONDS when the first stops or dies.
    """
    from responder.scheduling.runtime import run_scheduler_process

    run_scheduler_process(current_app._get_current_object())


# --- retention and backups -----------------------------------------------------

retention_cli = click.Group("retention", help="Removing personal data once incidents are old enough.")


@retention_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="List what would change; change nothing.")
@committed
def retention_purge(dry_run: bool) -> None:
    """Replace personal fields of incidents closed longer ago than the retention period.

    RETENTION_MONTHS after closing (exercises: EXERCISE_RETENTION_DAYS).
    References, times, states and figures are kept. The scheduler runs this daily.
    """
    from responder.governance.retention import purge_due

    results = purge_due(dry_run=dry_run)
    for result in results:
        click.echo(("would purge " if dry_run else "purged ") + result.describe())
    verb = "would be purged" if dry_run else "purged"
    click.echo(f"{len(results)} incident(s) {verb}." if results else "Nothing is due for purging.")


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Copy the SQLite database to FILE while the service runs (PostgreSQL: use pg_dump)."""
    from responder.operations.backup import BackupError, backup_database

    try:
        report = backup_database(file)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(str(report))

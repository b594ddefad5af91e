"""Recording every export: who took which format and variant of an incident, and when.

A record of what was shared, with whom and why, is part of lawful information
sharing; an export is on the incident's own timeline (so it shows in the
chronology a review panel reads) and in the access log.
"""

from __future__ import annotations

from responder import timeline
from responder.governance import sharing
from responder.governance.audit import record_access
from responder.models import EventKind, Incident, User
from responder.timeline import Actor

FORMAT_NAMES = {
    "csv": "chronology (CSV)",
    "json": "incident data (JSON)",
    "pdf": "after-action report (PDF)",
    "html": "after-action report (web page)",
}


def record_export(
    incident: Incident,
    user: User,
    export_format: str,
    *,
    redacted: bool,
    basis: str | None,
    purpose: str = "",
) -> None:
    """Write the export on the timeline, the sharing record and the access log, and commit,
    before anything is produced. Refused (SharingRefused, nothing written) without a lawful basis."""
    variant = "redacted" if redacted else "full"
    what = FORMAT_NAMES[export_format]
    actor = Actor.of(user)
    sharing.record_share(
        incident,
        category=f"incident export ({variant}): {what}",
        recipient=actor.sharing_name,
        channel=sharing.DOWNLOAD,
        basis=basis,
        shared_by=actor,
        purpose=purpose,
    )
    timeline.record(incident, EventKind.EXPORTED, by=actor, format=export_format, variant=variant)
    record_access(user, incident, "exported", f"{export_format} ({variant})")

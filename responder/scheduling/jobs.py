"""The functions APScheduler runs. Stored jobs name them by import path: do not move or rename.

Each takes only plain arguments (a row id), because stored jobs are pickled,
and pushes an app context of its own, because APScheduler's threads have none.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def fire_timed_action_job(action_id: int) -> None:
    from responder.scheduling.runtime import leading_runtime

    runtime = leading_runtime()
    if runtime is None:
        log.warning("timed action %s: no scheduler leads in this process; the next sweep fires it", action_id)
        return
    runtime.fire(action_id)


def reconcile_job() -> None:
    from responder.scheduling.runtime import leading_runtime

    runtime = leading_runtime()
    if runtime is not None:
        runtime.reconcile()


def sweep_outbox_job() -> None:
    """The outbox dispatcher's catch-all pass: messages left by a crash, or due a retry."""
    from responder.notify.dispatcher import sweep_outbox
    from responder.scheduling.runtime import leading_runtime

    runtime = leading_runtime()
    if runtime is None:
        return
    report = sweep_outbox(runtime.app)
    if report.sent or report.retrying or report.failed:
        log.info("outbox sweep: %s", report)


def retention_purge_job() -> None:
    """The daily retention purge (responder.governance.retention): personal fields of long-closed incidents."""
    from responder.scheduling.runtime import leading_runtime

    runtime = leading_runtime()
    if runtime is None:
        return
    from responder.governance.retention import purge_due

    with runtime.app.app_context():
        results = purge_due()
    log.info("retention purge: %s incident(s) purged", len(results))

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
    """Look at the outbox from this process too: messages a web process could not send (it died, say).

    The leading scheduler's dispatcher sends them; whatever a dead sender had
    handed over is looked up at the provider before it is sent again.
    """
    from responder.notify.dispatcher import start_dispatcher
    from responder.scheduling.runtime import leading_runtime

    runtime = leading_runtime()
    if runtime is not None:
        start_dispatcher(runtime.app).wake()


def retention_purge_job() -> None:
    """The daily retention purge (responder.governance.retention): personal fields of long-closed incidents."""
    from responder.scheduling.runtime import leading_runtime

    runtime = leading_runtime()
    if runtime is None:
        return
    from responder.governance.retention import purge_due
    from responder.unit_of_work import unit_of_work

    with runtime.app.app_context(), unit_of_work():
        results = purge_due()
    log.info("retention purge: %s incident(s) purged", len(results))


def extend_rotas_job() -> None:
    """Nightly: expand calendar rotas' recurring shifts ROTA_WINDOW_DAYS ahead (responder.rotas.importing)."""
    from responder.scheduling.runtime import leading_runtime

    runtime = leading_runtime()
    if runtime is None:
        return
    from responder.rotas.importing import extend_calendar_rotas
    from responder.unit_of_work import unit_of_work

    with runtime.app.app_context(), unit_of_work():
        lines = extend_calendar_rotas()
    for line in lines:
        log.info("rota extension: %s", line)

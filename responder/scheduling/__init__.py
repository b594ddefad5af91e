"""Timed actions: escalations, check-ins, reminders and deadlines, run by APScheduler.

Services call these (in their own transaction; nothing here commits):

* :func:`schedule_response` - when an incident opens;
* :func:`cancel_pending_escalations` - an agency acknowledged;
* :func:`reschedule_escalation` - a decline handed the alert on;
* :func:`cancel_incident_actions` - the incident closed or is standing down;
* :func:`cancel_deadline_notices` - a deadline was marked done.

How actions fire: responder.scheduling.firing; the scheduler process (and
its lease, reconciliation sweep and embedded mode): responder.scheduling.runtime.
"""

from responder.scheduling.schedule import (
    add_action,
    cancel_check_in_follow_ups,
    cancel_deadline_notices,
    cancel_incident_actions,
    cancel_pending_escalations,
    reschedule_escalation,
    schedule_response,
)

__all__ = [
    "add_action",
    "cancel_check_in_follow_ups",
    "cancel_deadline_notices",
    "cancel_incident_actions",
    "cancel_pending_escalations",
    "reschedule_escalation",
    "schedule_response",
]

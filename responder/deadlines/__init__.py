"""Deadlines that can be done: marked done by an officer or manager, missed ones shown in red.

A playbook's ``deadline`` step becomes a :class:`~responder.models.Deadline`
when the incident opens (responder.scheduling.schedule), with its reminder and
"due now" notice as timed actions; marking it done cancels those still pending.
"""

from responder.deadlines.service import (
    DeadlineError,
    DeadlineState,
    DeadlineStatus,
    deadline_statuses,
    mark_deadline_done,
    missed_deadline_counts,
)

__all__ = [
    "DeadlineError",
    "DeadlineState",
    "DeadlineStatus",
    "deadline_statuses",
    "mark_deadline_done",
    "missed_deadline_counts",
]

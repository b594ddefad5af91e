"""Playbooks: per-local-authority YAML that says who to activate, and when."""

from responder.playbooks.durations import Duration, parse_duration
from responder.playbooks.loader import PlaybookError, Problem, load_playbooks, snapshot
from responder.playbooks.model import IncidentFacts, PlaybookSet
from responder.playbooks.plan import ResponsePlan, plan_response, roles_without_contacts

__all__ = [
    "Duration",
    "IncidentFacts",
    "PlaybookError",
    "PlaybookSet",
    "Problem",
    "ResponsePlan",
    "load_playbooks",
    "parse_duration",
    "plan_response",
    "roles_without_contacts",
    "snapshot",
]

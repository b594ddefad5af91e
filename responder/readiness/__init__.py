"""Readiness, per local authority: what a partnership checks before anything happens.

The same checks serve the /readiness page and ``flask --app wsgi readiness
check [LOCAL_AUTHORITY]`` (exit 1 on any problem).
"""

from responder.readiness.checks import (
    Problem,
    ProblemKind,
    Readiness,
    callout_problems,
    readiness,
)

__all__ = ["Problem", "ProblemKind", "Readiness", "callout_problems", "readiness"]

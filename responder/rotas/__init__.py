"""Rotas behind role keys: who is on duty at a moment, imports from calendars and CSV, overrides, gaps.

The code that creates messages asks one question, :func:`on_duty`: who fills
this role at this moment, and how (through which rota, by an override, the
fixed contact standing in for a gap, or nobody).
"""

from responder.rotas.on_duty import DutySource, OnDuty, as_of, on_duty, on_duty_for

__all__ = ["DutySource", "OnDuty", "as_of", "on_duty", "on_duty_for"]

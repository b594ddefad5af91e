"""The incident timeline: what happened, when, by whom, recorded as data and put into words when read.

:func:`record` adds an event to the caller's unit of work; responder.timeline.render
writes its sentence, in full or redacted form, when it is shown or exported.
"""

from responder.timeline.actors import SYSTEM, Actor
from responder.timeline.record import record

__all__ = ["SYSTEM", "Actor", "record"]

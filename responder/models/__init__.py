"""Database models. Import from here: ``from responder.models import Incident``."""

from responder.models.access_tokens import AccessToken, TokenPurpose
from responder.models.contacts import Contact
from responder.models.incidents import (
    LOCAL_AUTHORITIES,
    Activation,
    ActivationState,
    Incident,
    IncidentStatus,
    IncidentType,
    OfferActivation,
    OfferState,
    ReferenceCounter,
    Tension,
)
from responder.models.messages import LINK_PLACEHOLDER, Channel, Message, MessageKind, MessageState
from responder.models.reviews import RagStatus, ReviewAction, ReviewNote, ReviewNoteKind
from responder.models.timeline import EventKind, TimelineEvent
from responder.models.users import ApiToken, Role, User

__all__ = [
    "LINK_PLACEHOLDER",
    "LOCAL_AUTHORITIES",
    "AccessToken",
    "Activation",
    "ActivationState",
    "ApiToken",
    "Channel",
    "Contact",
    "EventKind",
    "Incident",
    "IncidentStatus",
    "IncidentType",
    "Message",
    "MessageKind",
    "MessageState",
    "OfferActivation",
    "OfferState",
    "RagStatus",
    "ReferenceCounter",
    "ReviewAction",
    "ReviewNote",
    "ReviewNoteKind",
    "Role",
    "Tension",
    "TimelineEvent",
    "TokenPurpose",
    "User",
]

"""Database models. Import from here: ``from responder.models import Incident``."""

from responder.models.access_tokens import AccessToken, TokenPurpose
from responder.models.audit import AuditEvent
from responder.models.callouts import CalloutRecipient, CalloutTest, ConfirmedBy
from responder.models.check_ins import CheckIn
from responder.models.contacts import Contact
from responder.models.deadlines import Deadline
from responder.models.incidents import (
    LOCAL_AUTHORITIES,
    Activation,
    ActivationState,
    Incident,
    IncidentArea,
    IncidentStatus,
    IncidentType,
    OfferActivation,
    OfferState,
    ReferenceCounter,
    Tension,
)
from responder.models.messages import (
    LINK_PLACEHOLDER,
    CallOutcome,
    Channel,
    Message,
    MessageKind,
    MessageState,
    ProviderStatus,
    ReceivedText,
)
from responder.models.responses import AgencyResponse, ResponseChannel, ResponseKind
from responder.models.reviews import RagStatus, ReviewAction, ReviewNote, ReviewNoteKind
from responder.models.rotas import Rota, RotaShift, ShiftKind, ShiftOrigin
from responder.models.scheduler_lease import SchedulerLease
from responder.models.sharing import SharingRecord
from responder.models.sign_in import (
    RecoveryCode,
    SessionEnd,
    SignInMethod,
    SignInThrottle,
    StaffSession,
    ThrottleScope,
)
from responder.models.tension import TensionReading
from responder.models.timed_actions import ActionKind, ActionState, TimedAction
from responder.models.timeline import EventGroup, EventKind, TimelineEvent
from responder.models.users import NO_PASSWORD, ApiToken, Role, User

__all__ = [
    "LINK_PLACEHOLDER",
    "LOCAL_AUTHORITIES",
    "NO_PASSWORD",
    "AccessToken",
    "ActionKind",
    "ActionState",
    "Activation",
    "ActivationState",
    "AgencyResponse",
    "ApiToken",
    "AuditEvent",
    "CallOutcome",
    "CalloutRecipient",
    "CalloutTest",
    "Channel",
    "CheckIn",
    "ConfirmedBy",
    "Contact",
    "Deadline",
    "EventGroup",
    "EventKind",
    "Incident",
    "IncidentArea",
    "IncidentStatus",
    "IncidentType",
    "Message",
    "MessageKind",
    "MessageState",
    "OfferActivation",
    "OfferState",
    "ProviderStatus",
    "RagStatus",
    "ReceivedText",
    "RecoveryCode",
    "ReferenceCounter",
    "ResponseChannel",
    "ResponseKind",
    "ReviewAction",
    "ReviewNote",
    "ReviewNoteKind",
    "Role",
    "Rota",
    "RotaShift",
    "SchedulerLease",
    "SessionEnd",
    "SharingRecord",
    "ShiftKind",
    "ShiftOrigin",
    "SignInMethod",
    "SignInThrottle",
    "StaffSession",
    "Tension",
    "TensionReading",
    "ThrottleScope",
    "TimedAction",
    "TimelineEvent",
    "TokenPurpose",
    "User",
]

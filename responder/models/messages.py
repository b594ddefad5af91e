"""The outbox: every SMS and email Responder sends, written in the business transaction."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import EnumText, UTCDateTime


class Channel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"
    VOICE = "voice"  # a phone call beside a rung's text (responder.responses.phone_calls)


class MessageState(enum.StrEnum):
    PENDING = "pending"  # waiting to be sent (or to be retried)
    SENDING = "sending"  # claimed by a sender and handed to the provider; lease_until says until when
    SENT = "sent"  # accepted by the provider (or kept in the dev outbox)
    DELIVERED = "delivered"  # the provider reported delivery to the handset
    FAILED = "failed"  # gave up: see last_error
    CANCELLED = "cancelled"  # not sent: the incident stood down or closed first


class MessageKind(enum.StrEnum):
    ALERT = "alert"
    CHECK_IN = "check_in"  # a /c/<token> link to the check-in form
    CHECK_IN_REMINDER = "check_in_reminder"
    DEADLINE = "deadline"  # a deadline reminder or "due now" to the named role
    RESPONSE_NOTICE = "response_notice"  # tells the officer and duty manager who answered
    STAND_DOWN = "stand_down"  # the response is standing down: thank you
    REPLY_ANSWER = "reply_answer"  # answers a text a lead sent in, when the provider cannot answer at once
    SIGN_IN_NOTICE = "sign_in_notice"  # to a staff member: repeated failed sign-ins to their account
    CALLOUT_TEST = "callout_test"  # "does this number reach you?": no incident (responder.callouts)


class CallOutcome(enum.StrEnum):
    """What became of a phone call once Twilio placed it (``Message.call_outcome``, voice only)."""

    ACKNOWLEDGED = "acknowledged"  # a person pressed 1
    DECLINED = "declined"  # a person pressed 2
    NO_KEY = "no_key"  # answered, but no key was pressed
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"  # a machine answered (machine detection): Responder hung up
    FAILED = "failed"  # Twilio could not place it

    @property
    def answered(self) -> bool:
        """A person heard the call and chose a key."""
        return self in (CallOutcome.ACKNOWLEDGED, CallOutcome.DECLINED)


# The text "{link}" in a stored body stands for the recipient's access link.
# The link itself is derived when the message is sent, so raw tokens are
# never stored (see responder.responses.access_tokens).
LINK_PLACEHOLDER = "{link}"


class Message(db.Model):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    activation_id: Mapped[int | None] = mapped_column(ForeignKey("activations.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    access_token_id: Mapped[int | None] = mapped_column(ForeignKey("access_tokens.id"))
    channel: Mapped[Channel] = mapped_column(EnumText(Channel, 8))
    kind: Mapped[MessageKind] = mapped_column(EnumText(MessageKind, 24))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    state: Mapped[MessageState] = mapped_column(
        EnumText(MessageState, 16), default=MessageState.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    # A phone call only: what the person (or their voicemail) did. Set once: a repeated
    # webhook finds it set and changes nothing.
    call_outcome: Mapped[CallOutcome | None] = mapped_column(EnumText(CallOutcome, 16))
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the current attempt was handed to the provider (set as it is claimed).
    handed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An earlier attempt may have reached the provider (it timed out, or its sender
    # died): the provider is asked before this message is sent again.
    unknown_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first transient failure of a run of them: retries stop MESSAGE_RETRY_FOR_SECONDS
    # after it, and a text with no email beside it gets one MESSAGE_EMAIL_FALLBACK_SECONDS after it.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # On an email: the text it goes with (queued together, or as a fallback for it).
    twin_of_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    incident = relationship("Incident")
    activation = relationship("Activation")
    contact = relationship("Contact")
    access_token = relationship("AccessToken")
    # Written by an UPDATE after the rows are inserted (post_update): a link between rows of one
    # table otherwise makes the unit of work sort every new message one by one, which cost an
    # opening about 6% of its work (40 emails, each the twin of a text written in the same flush).
    twin_of = relationship("Message", remote_side=[id], post_update=True)

    def __init__(self, **values: Any) -> None:
        # Pending with no attempt until said otherwise, in memory as in the database. Every new
        # message then names the same columns in its INSERT, so a flush writes its messages in
        # one statement: with the texts claimed at the flush (responder.notify.handover) and the
        # emails beside them left to the column defaults, the two kinds alternated and each
        # message went in by an INSERT of its own.
        values.setdefault("state", MessageState.PENDING)
        values.setdefault("attempts", 0)
        super().__init__(**values)

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.channel} {self.state}>"


class ProviderStatus(db.Model):
    """How a channel's provider has been answering, across every sender process.

    One row per channel. ``failing_since`` is set by the first attempt that the
    provider refused or did not answer (timeouts, 5xx, 429, no connection) and
    cleared by the next one it accepted; /healthz degrades once it is old.
    A recipient's bad number or address is not the provider's health.
    """

    __tablename__ = "provider_status"

    channel: Mapped[Channel] = mapped_column(EnumText(Channel, 8), primary_key=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class ReceivedText(db.Model):
    """A text a lead sent in, known by the provider's id for it, so a callback delivered twice acts once.

    Holds neither the number nor the words: those are acted on and answered, not kept.
    """

    __tablename__ = "received_texts"
    __table_args__ = (UniqueConstraint("provider", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

"""Which scheduler process may act: a lease that its holder renews with a heartbeat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from responder.extensions import db
from responder.models.types import UTCDateTime


class SchedulerLease(db.Model):
    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    # "host:pid:random", so a restarted process never mistakes an old lease for its own.
    holder: Mapped[str] = mapped_column(String(120))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Nobody else may take the lease before this; a standby takes it after.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""The scheduler lease: one row that says which process may run the scheduler, and until when.

A standby takes the lease only once it has run out, so a leader that dies is
replaced within one lease period (SCHEDULER_LEASE_SECONDS) plus a poll. A
row rather than a PostgreSQL advisory lock because it works on SQLite too,
and because it shows who leads and how recently it renewed (/healthz).

It compares the clocks of different hosts, so scheduler hosts must keep
NTP time; a skew of a few seconds only delays a takeover. Even two leaders
at once (a paused leader waking up) cannot fire an action twice: that
guarantee is the guarded UPDATE in responder.scheduling.firing.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from responder.clock import now_utc
from responder.models import SchedulerLease

LEASE_NAME = "timed-actions"
_TABLE = SchedulerLease.__table__


def new_holder_name() -> str:
    """Unique per process start, so a restarted process never mistakes an old lease for its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class LeaseStatus:
    holder: str
    renewed_at: datetime
    expires_at: datetime


class Lease:
    def __init__(self, engine: Engine, holder: str, period: timedelta, name: str = LEASE_NAME) -> None:
        self._engine = engine
        self.holder = holder
        self.period = period
        self.name = name

    def acquire(self) -> bool:
        """Take the lease if it is free or has run out (or renew it if ours)."""
        now = now_utc()
        with self._engine.begin() as conn:
            taken = conn.execute(
                update(_TABLE)
                .where(
                    _TABLE.c.name == self.name,
                    or_(_TABLE.c.holder == self.holder, _TABLE.c.expires_at < now),
                )
                .values(
                    acquired_at=case((_TABLE.c.holder == self.holder, _TABLE.c.acquired_at), else_=now),
                    holder=self.holder,
                    renewed_at=now,
                    expires_at=now + self.period,
                )
            ).rowcount
        if taken:
            return True
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(_TABLE).values(
                        name=self.name,
                        holder=self.holder,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=now + self.period,
                    )
                )
        except IntegrityError:
            return False  # someone else holds it
        return True

    def renew(self) -> bool:
        """The heartbeat. False means another process has taken over: stop acting now."""
        now = now_utc()
        with self._engine.begin() as conn:
            return bool(
                conn.execute(
                    update(_TABLE)
                    .where(_TABLE.c.name == self.name, _TABLE.c.holder == self.holder)
                    .values(renewed_at=now, expires_at=now + self.period)
                ).rowcount
            )

    def release(self) -> None:
        """Let a standby take over at once (a clean shutdown)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(_TABLE)
                .where(_TABLE.c.name == self.name, _TABLE.c.holder == self.holder)
                .values(expires_at=now_utc())
            )


def lease_status(engine: Engine, name: str = LEASE_NAME) -> LeaseStatus | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(_TABLE.c.holder, _TABLE.c.renewed_at, _TABLE.c.expires_at).where(_TABLE.c.name == name)
        ).one_or_none()
    return LeaseStatus(*row) if row is not None else None

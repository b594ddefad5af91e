"""What administrators do to staff accounts (/admin/users), each change audited.

An administrator cannot deactivate or demote themselves (someone must be left
who can undo a mistake). Accounts managed by single sign-on take their role
and areas from the identity provider at each sign-in, so those are not edited here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select

from responder.accounts import sessions, throttling, two_factor
from responder.accounts.users import UserError, create_user
from responder.clock import now_utc
from responder.extensions import db
from responder.models import LOCAL_AUTHORITIES, NO_PASSWORD, ApiToken, AuditEvent, Role, SessionEnd, User


class AdminError(ValueError):
    """A change an administrator may not make; the message says why."""


def all_users() -> Select:
    return select(User).order_by(User.active.desc(), User.email)


def _audit(admin: User, target: User, action: str, detail: str = "") -> None:
    db.session.add(
        AuditEvent(at=now_utc(), user=admin, target_user=target, action=action, detail=detail[:200])
    )


def _areas(role: str, areas: list[str] | None) -> list[str] | None:
    """Only officers are limited to areas; an empty choice means every area."""
    chosen = sorted(set(areas or []))
    if unknown := [slug for slug in chosen if slug not in LOCAL_AUTHORITIES]:
        raise AdminError(f"Unknown local authority: {', '.join(unknown)}")
    return chosen if role == Role.OFFICER and chosen else None


def _describe_areas(areas: list[str] | None) -> str:
    return "every area" if areas is None else ", ".join(areas)


def add_user(
    admin: User, email: str, name: str, role: str, areas: list[str] | None, password: str | None
) -> User:
    """A new staff account; without a password it can sign in only through single sign-on."""
    limited = _areas(role, areas)
    try:
        user = create_user(email, role, password or "x" * 64, name=name or None)
    except UserError as error:
        raise AdminError(str(error).split(": ", 1)[-1]) from None
    if not password:
        user.password_hash = NO_PASSWORD
    user.local_authorities = limited
    db.session.flush()
    _audit(admin, user, "user_created", f"{role}, {_describe_areas(limited)}")
    return user


def change_access(admin: User, user: User, role: str, areas: list[str] | None) -> None:
    """Change what ``user`` may do and where."""
    if user.sso_managed:
        raise AdminError("This person's role comes from single sign-on: change it at the identity provider")
    if role not in {r.value for r in Role}:
        raise AdminError("Choose a role")
    if user.id == admin.id and role != Role.ADMIN:
        raise AdminError("You cannot take away your own admin role: ask another admin")
    limited = _areas(role, areas)
    if (user.role, user.local_authorities) == (role, limited):
        return
    detail = f"{user.role} -> {role}; {_describe_areas(user.local_authorities)} -> {_describe_areas(limited)}"
    user.role, user.local_authorities = role, limited
    _audit(admin, user, "access_changed", detail)


def set_active(admin: User, user: User, active: bool) -> None:
    """Deactivate (every session ends at once) or reactivate an account."""
    if user.id == admin.id and not active:
        raise AdminError("You cannot deactivate yourself: ask another admin")
    if user.active == active:
        return
    user.active = active
    if not active:
        sessions.end_sessions(user, SessionEnd.ACCOUNT_CHANGED)
    _audit(admin, user, "user_reactivated" if active else "user_deactivated")


def reset_two_factor(admin: User, user: User) -> None:
    """The holder lost their phone: two-factor off, sessions ended; they enrol again at their next sign-in."""
    two_factor.reset(user)
    sessions.end_sessions(user, SessionEnd.ACCOUNT_CHANGED)
    _audit(admin, user, "two_factor_reset")


def unlock(admin: User, user: User) -> int:
    """Forget every address's failed attempts at this account."""
    cleared = throttling.clear_account(user)
    _audit(admin, user, "sign_in_unlocked", f"{cleared} throttle(s) cleared")
    return cleared


def revoke_token(admin: User, user: User, token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise AdminError("No such token for this person")
    if token.revoked_at is None:
        token.revoked_at = now_utc()
        _audit(admin, user, "api_token_revoked", f"token {token.id}")
    return token


def tokens_of(user: User) -> list[ApiToken]:
    return db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
    ).all()


def history_of(user: User, limit: int = 100) -> list[AuditEvent]:
    """What administrators changed on this account, newest first."""
    return db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.target_user_id == user.id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    ).all()


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    now = now or now_utc()
    if token.revoked_at is not None:
        return "Revoked"
    return "Active" if token.usable_at(now) else "Expired"

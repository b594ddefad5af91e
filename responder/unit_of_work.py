"""One unit of work per request, command and job: services add and flush, the boundary commits once.

* A web request commits when its view answers below 400, and rolls back
  otherwise, so a refused or failed request leaves nothing half-written. A
  view whose refusal must still be recorded (a failed sign-in is counted)
  calls :func:`keep_writes_on_refusal`.
* A command, a scheduler job and each step of the sender run inside
  :func:`unit_of_work`.
* After any commit whose transaction queued an outgoing message, this
  process's sender is woken (a session event), so no call site can forget
  and nothing is sent before the commit. Texts due at once are claimed by
  the flush that writes them and handed to the sender with the wake-up
  (responder.notify.handover).

Services never call ``commit()`` or ``rollback()``: ``tests/test_unit_of_work.py``
lists every call in ``responder/`` and allows only the boundaries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, has_app_context
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from responder.extensions import db

log = logging.getLogger(__name__)

# session.info key: the transaction queued at least one outgoing message.
_QUEUED_MESSAGES = "responder.queued_messages"
# Runs of a request whose writes met a unique constraint before it gives up (500).
CONFLICT_ATTEMPTS = 3


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit what the block did, or roll all of it back if it raised. Needs an app context."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def committed(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command that is one unit of work (decorates a click command's function)."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        with unit_of_work():
            return command(*args, **kwargs)

    return run


def retried_on_conflict(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run a request again when its writes meet a unique constraint that a concurrent request won.

    The second run sees what the winner wrote: a form submitted twice at once
    opens one incident, a decline sent twice is "already declined", and two
    openings that drew the same reply code each get a code of their own.
    """

    @wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                response = view(*args, **kwargs)
                db.session.flush()
                return response
            except IntegrityError:
                db.session.rollback()
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                log.info("a write met a concurrent one; running the request again")
        raise AssertionError("unreachable")

    return run


def discard_changes() -> None:
    """Forget what this unit of work has done so far (a view about to show why it refused)."""
    db.session.rollback()


def keep_writes_on_refusal() -> None:
    """This request's writes stand although its answer is an error (say, a failed sign-in counted)."""
    g.keep_writes_on_refusal = True


def init_app(app: Flask) -> None:
    """Make each request one unit of work. Call last in create_app, so it commits before others log."""

    @app.after_request
    def finish_unit_of_work(response: Response) -> Response:
        if response.status_code < 400 or g.get("keep_writes_on_refusal"):
            db.session.commit()
        else:
            db.session.rollback()
        return response

    @app.teardown_request
    def discard_unfinished_work(error: BaseException | None) -> None:
        if error is not None:
            db.session.rollback()


def install_session_events() -> None:
    """Wake the sender after commits that queued messages; write batched rows. Once per process."""
    from responder import batched_rows
    from responder.notify import handover

    if sa.event.contains(Session, "after_commit", _wake_sender_after_commit):
        return
    sa.event.listen(Session, "before_flush", handover.claim_new_texts)
    sa.event.listen(Session, "after_flush", _note_queued_messages)
    sa.event.listen(Session, "do_orm_execute", _note_bulk_inserted_messages)
    sa.event.listen(Session, "before_commit", handover.prepare_hand_over)
    sa.event.listen(Session, "after_commit", _wake_sender_after_commit)
    sa.event.listen(Session, "after_transaction_create", _forget_uncommitted)
    batched_rows.install(Session)


def _note_queued_messages(session: Session, flush_context: Any) -> None:
    """A message the sender has to claim itself (texts handed over at the commit are not)."""
    from responder.models import Message, MessageState

    if any(isinstance(row, Message) and row.state != MessageState.SENDING for row in session.new):
        session.info[_QUEUED_MESSAGES] = True


def _note_bulk_inserted_messages(state: ORMExecuteState) -> None:
    from responder.models import Message

    if state.is_insert and state.bind_mapper is not None and state.bind_mapper.class_ is Message:
        state.session.info[_QUEUED_MESSAGES] = True


def _forget_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    """As a transaction begins: an earlier one that did not commit queued and claimed nothing.

    (A savepoint is not a new transaction: what was queued around it still goes.)
    """
    from responder.notify import handover

    if transaction.parent is None:
        session.info.pop(_QUEUED_MESSAGES, None)
        handover.forget(session)


def _wake_sender_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: what it wrote is not committed until the transaction around it is
    from responder.notify import handover

    ready = handover.take_ready(session)
    queued = session.info.pop(_QUEUED_MESSAGES, False)
    if not (queued or ready) or not has_app_context():
        return
    from responder.notify.dispatcher import wake_dispatcher

    wake_dispatcher(current_app._get_current_object(), ready, claim=queued)

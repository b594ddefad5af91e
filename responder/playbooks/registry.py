"""The playbooks an app runs with, loaded once when the app is created."""

from __future__ import annotations

from flask import Flask, current_app

from responder.playbooks.loader import PlaybookError, load_playbooks
from responder.playbooks.model import PlaybookSet

_KEY = "responder.playbooks"


def init_app(app: Flask, *, strict: bool) -> None:
    """Load PLAYBOOKS_DIR. Invalid playbooks stop the app unless ``strict`` is False
    (the command line, so that ``playbooks check`` can report on them)."""
    try:
        app.extensions[_KEY] = load_playbooks(app.config["PLAYBOOKS_DIR"])
    except PlaybookError as error:
        if strict:
            raise SystemExit(
                f"Responder cannot start: invalid playbook: {error}. "
                "Run `flask --app wsgi playbooks check` to see every problem."
            ) from None
        app.extensions[_KEY] = error


def current_playbooks() -> PlaybookSet:
    """The app's playbooks; raises PlaybookError when they failed to load."""
    loaded = current_app.extensions[_KEY]
    if isinstance(loaded, PlaybookError):
        raise loaded
    return loaded

"""The playbooks an app runs with, loaded once when the app is created."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from responder.playbooks.loader import PlaybookError, load_playbooks
from responder.playbooks.model import PlaybookSet

_KEY = "responder.playbooks"
# Loaded playbooks by folder and the size and modification time of every file in
# it: apps built in one process (a test suite builds hundreds) parse each version
# of a folder once. Validated playbooks are immutable values, so sharing is safe.
_loaded: dict[tuple, PlaybookSet] = {}


def init_app(app: Flask, *, strict: bool) -> None:
    """Load PLAYBOOKS_DIR. Invalid playbooks stop the app unless ``strict`` is False (a command
    other than ``flask run``, so that ``playbooks check`` can report on them; commands that
    act, such as ``scheduler run``, call :func:`require_valid` themselves)."""
    try:
        app.extensions[_KEY] = _load(app.config["PLAYBOOKS_DIR"])
    except PlaybookError as error:
        app.extensions[_KEY] = error
        if strict:
            require_valid(app)


def require_valid(app: Flask) -> None:
    """Stop the process, in one line, when the app's playbooks are invalid."""
    loaded = app.extensions[_KEY]
    if isinstance(loaded, PlaybookError):
        raise SystemExit(
            f"Responder cannot start: invalid playbook: {loaded}. "
            "Run `flask --app wsgi playbooks check` to see every problem."
        )


def current_playbooks() -> PlaybookSet:
    """The app's playbooks; raises PlaybookError when they failed to load."""
    loaded = current_app.extensions[_KEY]
    if isinstance(loaded, PlaybookError):
        raise loaded
    return loaded


def _load(directory: str) -> PlaybookSet:
    folder = Path(directory)
    try:
        version = (
            str(folder.resolve()),
            tuple(
                (path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in sorted(folder.iterdir())
            ),
        )
    except OSError:
        return load_playbooks(folder)  # says what is wrong with the folder
    if version not in _loaded:
        _loaded[version] = load_playbooks(folder)
    return _loaded[version]

"""Template filters: local time, durations and labels."""

from __future__ import annotations

from flask import Flask

from responder.clock import format_local


def register(app: Flask) -> None:
    app.add_template_filter(format_local, "localtime")
    app.add_template_filter(lambda value: value.replace("_", " ").capitalize() if value else "", "label")

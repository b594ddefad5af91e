"""Message bodies from ``templates/messages/``, rendered from the values their caller passes."""

from __future__ import annotations

from typing import Any

from flask import current_app


def render_message(template: str, /, **context: Any) -> str:
    """Render ``messages/<template>`` with ``context``.

    Straight from the app's Jinja environment (its filters and autoescaping
    included), without Flask's per-render context processors and signals,
    which add nothing to a text or an email: an opening renders three
    templates per lead, and this is about half the cost of each.
    """
    return current_app.jinja_env.get_template(f"messages/{template}").render(context)

"""Every address Responder gives out, built on ``PUBLIC_BASE_URL``.

Links in texts and emails, Twilio's status callback and the URL a webhook
was signed over must name the public address, never the host a request
happened to reach behind a proxy: they are all built here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app


def public_url(path: str, config: Mapping[str, Any] | None = None) -> str:
    """``PUBLIC_BASE_URL`` joined to ``path`` ("/incidents/BHM-2026-0042")."""
    base = (config if config is not None else current_app.config)["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/{path.lstrip('/')}"


def incident_page(reference: str) -> str:
    """The incident page, for notices to staff."""
    return public_url(f"/incidents/{reference}")

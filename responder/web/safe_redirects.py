"""Where a sign-in may send the user afterwards: only somewhere on this site."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# What browsers and URL libraries drop from a URL before reading it (WHATWG: tab,
# LF and CR anywhere, C0 controls and space at the ends), and backslashes, which
# they read as slashes: stripped first, so the check sees what the browser will.
_IGNORED_BY_BROWSERS = re.compile(r"[\x00-\x1f\x7f\\]")
LONGEST_NEXT = 2000


def same_site_path(target: str | None) -> str | None:
    """``target`` as a path on this site (with its query), or None when it could lead anywhere else."""
    if not target or len(target) > LONGEST_NEXT:
        return None
    cleaned = _IGNORED_BY_BROWSERS.sub("", target)
    if not cleaned.startswith("/") or cleaned.startswith("//"):
        return None
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return None
    return cleaned

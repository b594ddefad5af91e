"""Is a SECRET_KEY fit for production? It signs every session and every link's token."""

from __future__ import annotations

import re

SHORTEST = 32
FEWEST_DISTINCT = 10
# Words people leave in example files and first deployments: a key containing one
# was typed by a person, not generated.
PLACEHOLDERS = (
    "changeme",
    "change-me",
    "change_me",
    "replaceme",
    "secret",
    "password",
    "passw0rd",
    "example",
    "default",
    "placeholder",
    "insecure",
    "notsecure",
    "dummy",
    "sample",
    "letmein",
    "qwerty",
    "123456",
    "abcdef",
    "fixme",
)


def secret_key_problem(key: str | None) -> str | None:
    """Why ``key`` is not fit for production, in one sentence; None when it is.

    ``secrets.token_hex(32)`` and ``secrets.token_urlsafe(48)`` pass.
    """
    advice = 'generate one with: python3 -c "import secrets; print(secrets.token_hex(32))"'
    if not key:
        return f"SECRET_KEY must be set to a random value of at least {SHORTEST} characters; {advice}"
    if len(key) < SHORTEST:
        return f"SECRET_KEY must be set to a random value of at least {SHORTEST} characters; {advice}"
    if len(set(key)) < FEWEST_DISTINCT:
        return (
            f"SECRET_KEY has fewer than {FEWEST_DISTINCT} different characters, so it is not random; {advice}"
        )
    folded = re.sub(r"[^a-z0-9]", "", key.lower())
    for word in PLACEHOLDERS:
        if re.sub(r"[^a-z0-9]", "", word) in folded:
            return f"SECRET_KEY contains {word!r}, so it is a placeholder, not a random value; {advice}"
    return None

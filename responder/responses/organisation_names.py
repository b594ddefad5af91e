"""Names of organisations typed by hand: checked like the agency names playbooks hold.

A hand-added agency's or offer's name appears in texts, email subjects and
exports, as playbook names do, so it must be a name and only a name: 3 to
120 characters of letters, digits, spaces and ordinary punctuation, with no
control characters (a line break would end an email subject), no e-mail
address and no phone number (which would be personal data in every message).
"""

from __future__ import annotations

import unicodedata

MIN_LENGTH, MAX_LENGTH = 3, 120
PUNCTUATION = set(" '’&.,()/-:;+!?#")
# A run of this many digits (spaces, dots and dashes between them aside) reads as a phone number.
PHONE_DIGITS = 7


class NotAName(ValueError):
    """Not an organisation's name; the message says why, for the person who typed it."""


def checked_organisation_name(raw: str) -> str:
    """The name, trimmed, or NotAName saying what is wrong with it."""
    name = " ".join((raw or "").split())
    if any(unicodedata.category(char).startswith("C") for char in raw or ""):
        raise NotAName(
            "Use letters, numbers and ordinary punctuation only (no line breaks or control characters)"
        )
    if not MIN_LENGTH <= len(name) <= MAX_LENGTH:
        raise NotAName(f"The name must be {MIN_LENGTH} to {MAX_LENGTH} characters")
    if "@" in name:
        raise NotAName("Give the organisation's name, not an email address")
    if _longest_digit_run(name) >= PHONE_DIGITS:
        raise NotAName("Give the organisation's name, not a phone number")
    odd = sorted({char for char in name if not (char.isalnum() or char in PUNCTUATION)})
    if odd:
        raise NotAName(f"Use letters, numbers and ordinary punctuation only (not {' '.join(odd)})")
    return name


def _longest_digit_run(text: str) -> int:
    longest = run = 0
    for char in text:
        if char.isdigit():
            run += 1
            longest = max(longest, run)
        elif char not in " .-()":
            run = 0
    return longest

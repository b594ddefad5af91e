"""SMS text that fits: GSM-7 characters only, so two segments hold 306 characters.

One character outside GSM-7 (a curly quote in an agency name, say) switches
the whole message to UCS-2 and halves what a segment holds, so alert texts
are folded to GSM-7 before they are queued.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")  # each costs two septets
_GSM7 = frozenset(GSM7_BASIC | GSM7_EXTENDED)

_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2022": "*",
}

SEGMENT_SEPTETS = 160
MULTIPART_SEGMENT_SEPTETS = 153
# Alerts must fit in two segments: cheaper, and reassembled reliably by every phone.
MAX_SEGMENTS = 2
ELLIPSIS = "..."


def to_gsm7(text: str) -> str:
    """Replace characters outside GSM-7 with their nearest GSM-7 spelling."""
    if _GSM7.issuperset(text):
        return text  # nearly always: checked as a whole, not a character at a time
    out = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENDED:
            out.append(char)
        elif char in _REPLACEMENTS:
            out.append(_REPLACEMENTS[char])
        else:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
            out.append(plain if plain else "?")
    return "".join(out)


def septets(text: str) -> int:
    """Length in GSM-7 septets; raises ValueError for characters GSM-7 cannot carry."""
    if _GSM7.issuperset(text):
        return len(text) + sum(text.count(char) for char in GSM7_EXTENDED)
    total = 0
    for char in text:
        if char in GSM7_BASIC:
            total += 1
        elif char in GSM7_EXTENDED:
            total += 2
        else:
            raise ValueError(f"{char!r} is not a GSM-7 character")
    return total


def segment_count(text: str) -> int:
    """How many SMS segments a GSM-7 text takes."""
    length = septets(text)
    if length <= SEGMENT_SEPTETS:
        return 1
    return -(-length // MULTIPART_SEGMENT_SEPTETS)


def shorten_to_fit(
    render: Callable[[str], str],
    value: str,
    *,
    as_sent: Callable[[str], str] = lambda text: text,
    max_segments: int = MAX_SEGMENTS,
) -> str:
    """``render(value)``, with ``value`` cut short (ending "...") as little as the text needs to fit.

    ``render`` returns GSM-7 text; ``as_sent`` turns it into what the phone
    receives (the link filled in), which is what is measured. If even an
    empty ``value`` does not fit, the shortest text is returned: a long SMS
    is better than none.
    """

    def shortened(keep: int) -> str:
        if keep >= len(value):
            return render(value)
        return render(value[:keep].rstrip() + ELLIPSIS if keep else "")

    def fits(keep: int) -> bool:
        return segment_count(to_gsm7(as_sent(shortened(keep)))) <= max_segments

    whole = render(value)
    if segment_count(to_gsm7(as_sent(whole))) <= max_segments:
        return whole
    # The longest prefix that fits: binary search, as fitting only gets easier as it shrinks.
    low, high = 0, len(value) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return shortened(low)

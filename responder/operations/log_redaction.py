"""Keep link tokens out of logs: request lines name /a/<token> and /c/<token>."""

from __future__ import annotations

import logging
import re

_TOKEN_PATH = re.compile(r"(/[ac]/)[A-Za-z0-9_\-]{6,}")
REDACTED = r"\1[redacted]"


def redact(text: str) -> str:
    return _TOKEN_PATH.sub(REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message so no access token survives into any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install(*logger_names: str) -> None:
    """Add the filter once to each named logger (request loggers of dev and WSGI servers)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactTokens) for existing in logger.filters):
            logger.addFilter(RedactTokens())

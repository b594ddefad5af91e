"""Keep link tokens and query strings out of logs.

Request lines name /a/<token>, /c/<token> and /t/<token> (a call-out test), and
their query strings may carry anything (an export's purpose, a directory
search): every log line any server writes (the development server, gunicorn,
the app) goes through :func:`redact`.
"""

from __future__ import annotations

import logging
import re

_TOKEN_PATH = re.compile(r"(/[act]/)[A-Za-z0-9_\-]{6,}")
REDACTED = r"\1[redacted]"
# "GET /path?query HTTP/1.1" and the like: the query goes, the path stays.
_QUERY_IN_REQUEST = re.compile(r"(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE|CONNECT) (\S*?)\?[^\s\"']*")
QUERY_REDACTED = r"\1 \2?[redacted]"
# Whole addresses (a Referer in an access log line): the same.
_QUERY_IN_URL = re.compile(r"(https?://[^\s\"'?]+)\?[^\s\"']*")
URL_QUERY_REDACTED = r"\1?[redacted]"


def redact(text: str) -> str:
    """``text`` without link tokens, and with the query string of any request line replaced."""
    text = _TOKEN_PATH.sub(REDACTED, text)
    return _QUERY_IN_URL.sub(URL_QUERY_REDACTED, _QUERY_IN_REQUEST.sub(QUERY_REDACTED, text))


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

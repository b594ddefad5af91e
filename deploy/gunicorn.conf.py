"""Gunicorn settings for Responder's web processes.

    gunicorn --config deploy/gunicorn.conf.py wsgi:app

Web processes run with SCHEDULER=off; timed actions run in their own
``flask --app wsgi scheduler run`` process (deploy/systemd). Every value can
be overridden from the environment (GUNICORN_BIND, GUNICORN_WORKERS, ...).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # the reverse proxy connects here
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
# Threads: a slow Twilio or SMTP call in one request does not hold up the rest.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Never preload: the app would be built in the master and forked, and any
# thread started there (a scheduler, the outbox dispatcher) dies at fork.
preload_app = False
# Only the local reverse proxy may say the request came over https (the app's
# own ProxyFix, PROXY_FIX_HOPS, takes the client address from it as well).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Access log: the path without its query string (%(U)s, never %(r)s or %(q)s),
# the status, bytes, milliseconds and the request id the app returned.
# Paths of acknowledgement and check-in links carry tokens: the filter below
# prints them as /a/[redacted] and /c/[redacted].
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms %({x-request-id}o)s'

# gunicorn's own loggers write JSON lines through the app's handler, with the
# token redaction filter; the app's loggers get the same handler in create_app.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "responder.operations.structured_logs.JsonFormatter"}},
    "handlers": {
        "json": {"class": "responder.operations.structured_logs.ResponderLogHandler", "formatter": "json"}
    },
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["json"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["json"], "propagate": False},
    },
}

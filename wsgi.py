"""Entry point for gunicorn (`gunicorn wsgi:app`) and `flask --app wsgi ...`."""

from responder import create_app
from responder.operations.heap import freeze_start_up_objects

app = create_app()
freeze_start_up_objects()

"""Entry point for gunicorn (`gunicorn wsgi:app`) and `flask --app wsgi ...`."""

from responder import create_app

app = create_app()

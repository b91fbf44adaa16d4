"""WSGI entry point: `gunicorn wsgi:app` (set PORCHLIGHT_ENV=production and SECRET_KEY)."""

from app import create_app

app = create_app()

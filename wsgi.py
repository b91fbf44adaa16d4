"""WSGI entry point: `gunicorn wsgi:app` runs the production config (SECRET_KEY and AUDIT_KEY needed).

`PORCHLIGHT_ENV=development` (which `make run` sets) runs the development config instead.
"""

from app import create_app

app = create_app()

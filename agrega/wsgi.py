import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agrega.settings")
django_application = get_wsgi_application()

# API requests that a token authenticates take a shorter middleware chain (decision 0015);
# the import needs the app registry that get_wsgi_application() has just set up.
from agrega.core.handlers import AgregaWSGIApplication  # noqa: E402

application = AgregaWSGIApplication(django_application)


def _refuse_development_secrets() -> None:
    """gunicorn does not run Django's system checks: run the secrets one here, so the web
    refuses to start on development keys like every command does (core/keys.py)."""
    from django.core.exceptions import ImproperlyConfigured

    from agrega.core.keys import check_production_keys

    errors = check_production_keys()
    if errors:
        raise ImproperlyConfigured("\n".join(f"{e.id}: {e.msg} {e.hint}" for e in errors))


_refuse_development_secrets()

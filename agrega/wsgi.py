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


def _freeze_start_up_heap() -> None:
    """The objects the app's start-up leaves (~195,000 the garbage collector tracks:
    modules, models, the URL configuration and the views it imports) live as long as the
    worker; without this, every full collection walked them again, a ~125 ms pause that
    showed in the reads' p99 under load (bench/README.md, "api_load", seventh session). The
    URL configuration is loaded first so that its modules are part of it (core/heap.py)."""
    from django.urls import get_resolver

    from agrega.core.heap import freeze_startup_heap

    get_resolver().url_patterns  # noqa: B018 - imports the URL configuration and the views
    freeze_startup_heap()


_freeze_start_up_heap()

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "agrega.core"
    label = "core"
    verbose_name = "Núcleo"

    def ready(self):
        from django.core import checks

        from . import search
        from .keys import check_production_keys

        search.install()  # agrega_fold() on SQLite connections (core.search)

        checks.register(check_production_keys, "security")

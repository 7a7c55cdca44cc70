from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "agrega.core"
    label = "core"
    verbose_name = "Núcleo"

    def ready(self):
        from django.core import checks

        from .keys import check_production_keys

        checks.register(check_production_keys, "security")

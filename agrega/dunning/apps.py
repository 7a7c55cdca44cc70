from django.apps import AppConfig


class DunningConfig(AppConfig):
    name = "agrega.dunning"
    label = "dunning"
    verbose_name = "Régua de cobrança"

    def ready(self):
        from . import receivers  # noqa: F401

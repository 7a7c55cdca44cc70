from django.apps import AppConfig


class PixConfig(AppConfig):
    name = "agrega.pix"
    label = "pix"
    verbose_name = "PIX (API Pix do Banco Central)"

    def ready(self):
        from . import receivers  # noqa: F401  (billing and contracts hooks)

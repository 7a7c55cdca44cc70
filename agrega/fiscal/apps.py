from django.apps import AppConfig


class FiscalConfig(AppConfig):
    name = "agrega.fiscal"
    label = "fiscal"
    verbose_name = "Fiscal (NFCom)"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (billing run finished, título cancelled)

from django.apps import AppConfig


class SvaConfig(AppConfig):
    name = "agrega.sva"
    label = "sva"
    verbose_name = "Usuários SVA"

    def ready(self) -> None:
        # The SVA app listens to contracts, customers and products: the hooks write the
        # SVA intent in the same transaction as the change (docs/decisions/0002).
        from . import receivers  # noqa: F401

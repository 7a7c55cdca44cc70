from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "agrega.contracts"
    label = "contracts"
    verbose_name = "Contratos"

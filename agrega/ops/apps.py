from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "agrega.ops"
    label = "ops"
    verbose_name = "Operação"

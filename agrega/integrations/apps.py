from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "agrega.integrations"
    label = "integrations"
    verbose_name = "Integrações SVA"

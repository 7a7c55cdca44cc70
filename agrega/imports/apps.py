from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "agrega.imports"
    label = "imports"
    verbose_name = "Importações"

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "agrega.core"
    label = "core"
    verbose_name = "Núcleo"

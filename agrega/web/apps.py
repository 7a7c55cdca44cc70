from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "agrega.web"
    label = "web"
    verbose_name = "Interface web"

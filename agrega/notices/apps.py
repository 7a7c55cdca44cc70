from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "agrega.notices"
    label = "notices"
    verbose_name = "Avisos ao cliente"

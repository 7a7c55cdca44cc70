from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "agrega.consent"
    label = "consent"
    verbose_name = "Consentimentos"

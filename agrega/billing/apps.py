from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "agrega.billing"
    label = "billing"
    verbose_name = "Financeiro"

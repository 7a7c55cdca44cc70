from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "agrega.customers"
    label = "customers"
    verbose_name = "Clientes"

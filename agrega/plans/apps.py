from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "agrega.plans"
    label = "plans"
    verbose_name = "Planos de venda"

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "agrega.catalog"
    label = "catalog"
    verbose_name = "Produtos"

from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "agrega.campaigns"
    label = "campaigns"
    verbose_name = "Campanhas SVA"

from django.contrib import admin

from agrega.core.admin_base import ReadOnlyAdmin

from .models import SvaIntegration


@admin.register(SvaIntegration)
class SvaIntegrationAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "platform", "base_url", "prefix", "auto_create_users", "active",
                    "circuit_open_until", "last_error_code")
    exclude = ("credentials_encrypted",)  # never shown, not even encrypted

from django.contrib import admin

from .admin_base import ReadOnlyAdmin
from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("name", "user", "key_prefix", "created_at", "last_used_at", "revoked_at")
    exclude = ("key_hash",)

from django.contrib import admin

from agrega.core.admin_base import ReadOnlyAdmin

from .models import ConsentRecord


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "contract", "product", "consented_at", "channel", "evidence_ref", "actor_label",
                    "revoked_at")
    list_filter = ("channel",)
    search_fields = ("evidence_ref", "contract__customer__name")

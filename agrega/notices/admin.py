from django.contrib import admin

from agrega.core.admin_base import ReadOnlyAdmin

from .models import CustomerNotice, NoticeTemplate


@admin.register(CustomerNotice)
class CustomerNoticeAdmin(ReadOnlyAdmin):
    list_display = ("id", "sva_user", "event", "to", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "event")
    search_fields = ("to", "subject")


@admin.register(NoticeTemplate)
class NoticeTemplateAdmin(ReadOnlyAdmin):
    list_display = ("id", "integration", "event", "enabled", "subject", "updated_at")

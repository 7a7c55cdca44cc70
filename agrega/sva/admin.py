from django.contrib import admin

from agrega.core.admin_base import ReadOnlyAdmin

from .models import ReconciliationRun, SvaCall, SvaUser
from .selectors import desired_for, sync_status


class SvaCallInline(admin.TabularInline):
    model = SvaCall
    extra = 0
    can_delete = False
    fields = ("created_at", "operation", "method", "path", "status_code", "duration_ms", "error_code")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SvaUser)
class SvaUserAdmin(ReadOnlyAdmin):
    list_display = ("id", "contract", "integration", "desired", "confirmed_state", "sync", "last_attempt_at",
                    "last_error_message")
    list_filter = ("confirmed_state", "integration", "origin")
    inlines = [SvaCallInline]
    list_select_related = ("integration", "contract__customer", "contract_product__product")

    @admin.display(description="estado desejado")
    def desired(self, obj):
        return desired_for(obj).state

    @admin.display(description="sincronização")
    def sync(self, obj):
        return sync_status(obj)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "integration", "status", "started_at", "finished_at")
    list_filter = ("status", "integration")

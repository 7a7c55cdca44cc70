from django.contrib import admin

from agrega.core.admin_base import ReadOnlyAdmin

from .models import Contract, ContractEvent, ContractProduct


class ContractProductInline(admin.TabularInline):
    model = ContractProduct
    extra = 0
    can_delete = False
    readonly_fields = ("product", "kind", "price", "added_at", "removed_at")

    def has_add_permission(self, request, obj=None):
        return False


class ContractEventInline(admin.TabularInline):
    model = ContractEvent
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "action", "actor_label", "from_status", "to_status",
                       "from_access_status", "to_access_status", "detail")
    exclude = ("actor",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdmin):
    list_display = ("id", "customer", "status", "access_status", "billing_day", "activated_at")
    list_filter = ("status", "access_status")
    search_fields = ("customer__name", "customer__document")
    inlines = [ContractProductInline, ContractEventInline]

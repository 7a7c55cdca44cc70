from django.contrib import admin

from agrega.core.admin_base import ReadOnlyAdmin

from .models import SalesPlan, SalesPlanItem


class SalesPlanItemInline(admin.TabularInline):
    model = SalesPlanItem
    extra = 0
    can_delete = False
    readonly_fields = ("product", "price")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SalesPlan)
class SalesPlanAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "active", "updated_at")
    list_filter = ("active",)
    search_fields = ("name",)
    inlines = [SalesPlanItemInline]

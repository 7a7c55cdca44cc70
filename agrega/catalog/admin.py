from django.contrib import admin

from agrega.core.admin_base import ReadOnlyAdmin

from .models import Product


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "price", "fiscal_class", "sva_integration", "sva_package_code", "active")
    list_filter = ("fiscal_class", "sva_integration")
    search_fields = ("name", "sva_package_code")

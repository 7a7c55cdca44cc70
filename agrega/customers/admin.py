from django.contrib import admin

from agrega.core.admin_base import ReadOnlyAdmin

from .models import Customer


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "person_type", "document", "email", "mobile_phone", "city", "state")
    search_fields = ("name", "document", "email")
    list_filter = ("person_type", "state")

"""Web pages of the catalog app (mounted by agrega/urls.py)."""

from django.urls import path  # noqa: F401

app_name = "catalog"

urlpatterns: list = []

"""Web pages of the integrations app (mounted by agrega/urls.py)."""

from django.urls import path  # noqa: F401

app_name = "integrations"

urlpatterns: list = []

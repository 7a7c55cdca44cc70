"""Web pages of the contracts app (mounted by agrega/urls.py)."""

from django.urls import path  # noqa: F401

app_name = "contracts"

urlpatterns: list = []

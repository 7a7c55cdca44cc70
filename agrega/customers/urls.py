"""Web pages of the customers app (mounted by agrega/urls.py)."""

from django.urls import path  # noqa: F401

app_name = "customers"

urlpatterns: list = []

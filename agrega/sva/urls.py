"""Web pages of the sva app (mounted by agrega/urls.py)."""

from django.urls import path  # noqa: F401

app_name = "sva"

urlpatterns: list = []

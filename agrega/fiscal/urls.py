"""Fiscal pages (mounted at the site root by agrega/urls.py, so each keeps its menu path)."""

from django.urls import path

from . import views

app_name = "fiscal"

urlpatterns = [
    path("configuracoes/fiscal/", views.FiscalSettingsView.as_view(), name="settings"),
    path("configuracoes/fiscal/produtos/", views.ProductFiscalView.as_view(), name="products"),
    path("financeiro/nfcom/", views.NFComListView.as_view(), name="list"),
    path("financeiro/nfcom/zip/", views.ZipView.as_view(), name="zip"),
    path("financeiro/nfcom/relatorios/", views.ReportsView.as_view(), name="reports"),
    path("financeiro/nfcom/<id:invoice_id>/xml/", views.NFComFileView.as_view(kind="xml"), name="xml"),
    path("financeiro/nfcom/<id:invoice_id>/danfe/", views.NFComFileView.as_view(kind="pdf"), name="danfe"),
    path("financeiro/nfcom/<id:invoice_id>/<str:action>/", views.NFComActionView.as_view(), name="action"),
]

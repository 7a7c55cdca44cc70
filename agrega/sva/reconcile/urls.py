"""Reconciliation pages, under the integration they belong to (mounted by agrega/urls.py
at /configuracoes/integracoes-sva/)."""

from django.urls import path

from . import views as reconcile_views

app_name = "reconcile"

urlpatterns = [
    path("<int:pk>/reconciliacao/", reconcile_views.ReconciliationListView.as_view(), name="list"),
    path("<int:pk>/reconciliacao/<int:run_pk>/", reconcile_views.ReconciliationDetailView.as_view(),
         name="detail"),
]

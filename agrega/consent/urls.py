"""Web pages of the consent app (mounted by agrega/urls.py at /consentimentos/)."""

from django.urls import path

from . import views

app_name = "consent"

urlpatterns = [
    path("contrato/<int:contract_pk>/novo/", views.ConsentCreateView.as_view(), name="create"),
    path("<int:pk>/revogar/", views.ConsentRevokeView.as_view(), name="revoke"),
    path("relatorio-sva-sem-consentimento/", views.WithoutConsentReportView.as_view(), name="report"),
]

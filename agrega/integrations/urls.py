"""Web pages of the integrations app (mounted at /configuracoes/integracoes-sva/)."""

from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("", views.IntegrationListView.as_view(), name="list"),
    path("nova/", views.IntegrationCreateView.as_view(), name="create"),
    path("<int:pk>/editar/", views.IntegrationEditView.as_view(), name="edit"),
    path("<int:pk>/testar-conexao/", views.IntegrationCheckView.as_view(), name="check"),
    path("campos-credenciais/", views.CredentialFieldsView.as_view(), name="credential_fields"),
]

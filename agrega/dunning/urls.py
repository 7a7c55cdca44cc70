"""Pages of Configurações > Régua de cobrança (mounted at /configuracoes/regua-de-cobranca/),
and a contract's trust release (``contract_urlpatterns``, mounted at /financeiro/ as
before, namespace ``dunning_contracts``)."""

from django.urls import path

from . import views

app_name = "dunning"

urlpatterns = [
    path("", views.PolicyListView.as_view(), name="list"),
    path("nova/", views.PolicyCreateView.as_view(), name="create"),
    path("aplicar/", views.SweepView.as_view(), name="sweep"),
    path("<int:pk>/editar/", views.PolicyEditView.as_view(), name="edit"),
    path("<int:pk>/padrao/", views.PolicyDefaultView.as_view(), name="make_default"),
]

contract_urlpatterns = ([
    path("contratos/<int:pk>/desbloqueio-de-confianca/", views.TrustReleaseView.as_view(), name="trust_release"),
], "dunning_contracts")

"""Web pages of the customers app (mounted at /clientes/)."""

from django.urls import path

from . import views

app_name = "customers"

urlpatterns = [
    path("", views.CustomerListView.as_view(), name="list"),
    path("novo/", views.CustomerCreateView.as_view(), name="create"),
    path("<int:pk>/", views.CustomerDetailView.as_view(), name="detail"),
    path("<int:pk>/editar/", views.CustomerEditView.as_view(), name="edit"),
    path("<int:pk>/dados-pessoais/", views.CustomerPersonalDataView.as_view(), name="personal_data"),
    path("<int:pk>/anonimizar/", views.CustomerAnonymizeView.as_view(), name="anonymize"),
    path("validar-campo/", views.CustomerFieldCheckView.as_view(), name="validate"),
    path("lupa/", views.CustomerPickerView.as_view(), name="picker"),
]

"""Web pages of the catalog app (mounted at /produtos/)."""

from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.ProductListView.as_view(), name="list"),
    path("novo/", views.ProductCreateView.as_view(), name="create"),
    path("<int:pk>/", views.ProductDetailView.as_view(), name="detail"),
    path("<int:pk>/editar/", views.ProductEditView.as_view(), name="edit"),
    path("lupa/integracoes-sva/", views.IntegrationPickerView.as_view(), name="integration_picker"),
    path("campo-pacote-sva/", views.PackageFieldView.as_view(), name="package_field"),
]

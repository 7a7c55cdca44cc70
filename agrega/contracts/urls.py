"""Web pages of the contracts app (mounted by agrega/urls.py at /contratos/)."""

from django.urls import path

from . import views

app_name = "contracts"

urlpatterns = [
    path("", views.ContractListView.as_view(), name="list"),
    path("novo/", views.ContractCreateView.as_view(), name="create"),
    path("lupa/produtos/", views.ProductPickerView.as_view(), name="product_picker"),
    path("<int:pk>/", views.ContractDetailView.as_view(), name="detail"),
    path("<int:pk>/sva/estado/", views.ContractSvaLiveView.as_view(), name="sva_live"),
    path("<int:pk>/acao/<slug:action>/", views.ContractActionView.as_view(), name="action"),
    path("<int:pk>/produtos/novo/", views.ContractProductAddView.as_view(), name="product_add"),
    path("<int:pk>/produtos/<int:item_pk>/remover/", views.ContractProductRemoveView.as_view(),
         name="product_remove"),
]

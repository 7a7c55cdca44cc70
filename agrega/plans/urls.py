"""Web pages of the plans app (mounted by agrega/urls.py at /planos-de-venda/)."""

from django.urls import path

from . import views

app_name = "plans"

urlpatterns = [
    path("", views.PlanListView.as_view(), name="list"),
    path("novo/", views.PlanCreateView.as_view(), name="create"),
    path("itens/", views.PlanItemsPreviewView.as_view(), name="items_preview"),
    path("<int:pk>/", views.PlanDetailView.as_view(), name="detail"),
    path("<int:pk>/editar/", views.PlanEditView.as_view(), name="edit"),
    path("<int:pk>/excluir/", views.PlanDeleteView.as_view(), name="delete"),
]

"""Web pages of the sva app (mounted by agrega/urls.py at /usuarios-sva/)."""

from django.urls import path

from . import views

app_name = "sva"

urlpatterns = [
    path("contrato/<int:contract_pk>/novo/", views.SvaUserCreateView.as_view(), name="create"),
    path("<int:pk>/", views.SvaUserDetailView.as_view(), name="detail"),
    path("<int:pk>/estado/", views.SvaUserStateView.as_view(), name="state"),
    path("<int:pk>/linha-do-tempo/", views.SvaUserTimelineView.as_view(), name="timeline"),
    path("<int:pk>/sincronizar/", views.SvaUserSyncView.as_view(), name="sync"),
    path("<int:pk>/excluir/", views.SvaUserDeleteView.as_view(), name="delete"),
]

"""Configurações > Usuários (mounted at /configuracoes/usuarios/)."""

from django.urls import path

from . import views

app_name = "users"

urlpatterns = [
    path("", views.UserListView.as_view(), name="list"),
    path("novo/", views.UserCreateView.as_view(), name="create"),
    path("<int:pk>/", views.UserDetailView.as_view(), name="detail"),
    path("<int:pk>/papel/", views.UserRoleView.as_view(), name="role"),
    path("<int:pk>/desativar/", views.UserDeactivateView.as_view(), name="deactivate"),
    path("<int:pk>/reativar/", views.UserReactivateView.as_view(), name="reactivate"),
    path("<int:pk>/senha/", views.UserPasswordView.as_view(), name="password"),
    path("<int:pk>/tokens/<int:token_pk>/revogar/", views.UserTokenRevokeView.as_view(), name="revoke_token"),
]

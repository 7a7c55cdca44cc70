"""Web routes (pt-BR paths). Pages are added here as they are built."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .forms import LoginForm

app_name = "web"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("inicio/estado/", views.DashboardLiveView.as_view(), name="dashboard_live"),
    path("entrar/", auth_views.LoginView.as_view(redirect_authenticated_user=True, authentication_form=LoginForm), name="login"),
    path("sair/", auth_views.LogoutView.as_view(), name="logout"),
    path("tarefas/", views.TaskListView.as_view(), name="tasks"),
    path("tarefas/<str:task_id>/", views.TaskDetailView.as_view(), name="task"),
]

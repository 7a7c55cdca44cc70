"""Web pages of the imports app (mounted by agrega/urls.py at /importacoes/)."""

from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.ImportListView.as_view(), name="list"),
    path("nova/", views.ImportUploadView.as_view(), name="upload"),
    path("modelo.csv", views.ImportTemplateView.as_view(), name="template"),
    path("<int:pk>/", views.ImportDetailView.as_view(), name="detail"),
    path("<int:pk>/progresso/", views.ImportProgressView.as_view(), name="progress"),
    path("<int:pk>/mapeamento/", views.ImportMappingView.as_view(), name="mapping"),
    path("<int:pk>/remapear/", views.ImportRemapView.as_view(), name="remap"),
    path("<int:pk>/importar/", views.ImportStartView.as_view(), name="start"),
    path("<int:pk>/pausar/", views.ImportPauseView.as_view(), name="pause"),
    path("<int:pk>/linhas.csv", views.ImportRowsCsvView.as_view(), name="rows_csv"),
]

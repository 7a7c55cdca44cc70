"""Pages of the notices app, under an integration (mounted by agrega/urls.py at
/configuracoes/integracoes-sva/<integration_pk>/avisos/)."""

from django.urls import path

from . import views

app_name = "notices"

urlpatterns = [
    path("", views.NoticeTextsView.as_view(), name="texts"),
    path("previa/<slug:event>/", views.NoticePreviewView.as_view(), name="preview"),
    path("<int:pk>/reenviar/", views.NoticeRetryView.as_view(), name="retry"),
]

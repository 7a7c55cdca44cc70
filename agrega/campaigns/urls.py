"""Web pages of the campaigns app (mounted by agrega/urls.py at /campanhas-sva/)."""

from django.urls import path

from . import views

app_name = "campaigns"

urlpatterns = [
    path("", views.CampaignListView.as_view(), name="list"),
    path("nova/", views.CampaignCreateView.as_view(), name="create"),
    path("<int:pk>/", views.CampaignDetailView.as_view(), name="detail"),
    path("<int:pk>/progresso/", views.CampaignProgressView.as_view(), name="progress"),
    path("<int:pk>/relatorio.csv", views.CampaignReportCsvView.as_view(), name="report_csv"),
    path("<int:pk>/<slug:action>/", views.CampaignActionView.as_view(), name="action"),
]

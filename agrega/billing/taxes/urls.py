"""Pages of the SCM/SVA taxes: Configurações > Tributos and Financeiro > Receita SCM/SVA
(mounted once by agrega/urls.py at the site root, so each keeps its menu path)."""

from django.urls import path

from . import views as tax_views

app_name = "taxes"

urlpatterns = [
    path("configuracoes/tributos/", tax_views.TaxRatesView.as_view(), name="rates"),
    path("configuracoes/tributos/<str:fiscal_class>/editar/", tax_views.TaxClassEditView.as_view(), name="edit"),
    path("financeiro/receita/", tax_views.RevenueReportView.as_view(), name="revenue"),
    path("financeiro/receita/csv/", tax_views.RevenueReportCsvView.as_view(), name="revenue_csv"),
]

"""Web pages of the billing app (mounted by agrega/urls.py at /financeiro/)."""

from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("titulos/", views.InvoiceListView.as_view(), name="invoice_list"),
    path("titulos/<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice_detail"),
    path("titulos/<int:pk>/cancelar/", views.InvoiceCancelView.as_view(), name="invoice_cancel"),
    path("pagamentos/importar/", views.PaymentImportView.as_view(), name="import"),
    path("pagamentos/importacoes/<int:pk>/", views.PaymentImportDetailView.as_view(), name="import_detail"),
    path("pagamentos/retidos/", views.HeldPaymentsView.as_view(), name="held_payments"),
    path("faturamento/", views.BillingRunView.as_view(), name="runs"),
    path("faturamento/<int:pk>/", views.BillingRunDetailView.as_view(), name="run_detail"),
]

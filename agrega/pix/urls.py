"""Pages of the PIX app (mounted at /configuracoes/contas-pix/) and the webhook (/pix/webhook/)."""

from django.urls import path

from . import views

app_name = "pix"

urlpatterns = [
    path("configuracoes/contas-pix/", views.AccountListView.as_view(), name="list"),
    path("configuracoes/contas-pix/nova/", views.AccountCreateView.as_view(), name="create"),
    path("configuracoes/contas-pix/<id:pk>/editar/", views.AccountEditView.as_view(), name="edit"),
    path("configuracoes/contas-pix/<id:pk>/<slug:action>/", views.AccountActionView.as_view(), name="action"),
    path("financeiro/pagamentos/<id:payment_id>/devolver-pix/", views.RefundView.as_view(), name="refund"),
    path("contratos/<id:contract_id>/pix-automatico/<slug:action>/", views.RecurrenceView.as_view(),
         name="recurrence"),
    # the PSP appends /pix, /rec or /cobr to the URL registered (PUT /webhook/{chave})
    path("pix/webhook/<str:secret>/pix", views.WebhookView.as_view(kind="pix"), name="webhook"),
    path("pix/webhook/<str:secret>/rec", views.WebhookView.as_view(kind="rec"), name="webhook_rec"),
    path("pix/webhook/<str:secret>/cobr", views.WebhookView.as_view(kind="cobr"), name="webhook_cobr"),
]

"""Financeiro pages: Títulos (list, detail with baixa and cancellation), Importar
pagamentos, Faturamento, and the contract's Financeiro tab with the desbloqueio de
confiança. Views read through selectors and write through services."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from agrega.contracts.choices import AccessStatus
from agrega.core.errors import ApplicationError
from agrega.core.money import format_brl
from agrega.core.roles import Capability
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.tasks import task_data, task_get
from agrega.core.web import apply_service_error, keyset_context

from . import selectors, services
from .forms import (
    BillingRunForm,
    CancelForm,
    InvoiceFilterForm,
    PaymentForm,
    PaymentImportForm,
)
from .filtersets import InvoiceFilterSet
from .imports import STATUS_LABELS, payments_import_csv
from .models import PaymentStatus

PAGE_SIZE = 25
RECENT = 50  # earlier imports and billing runs shown, newest first
CONTRACT_TAB_INVOICES = 24


def _invoice_or_404(pk: int):
    invoice = selectors.invoice_get(pk)
    if invoice is None:
        raise Http404("Título não encontrado.")
    return invoice


def _contract_or_404(pk: int):
    contract = selectors.contract_for_billing(pk)
    if contract is None:
        raise Http404("Contrato não encontrado.")
    return contract


def contract_tab_context(contract) -> dict:
    """What the contract page's Financeiro tab shows (contracts/detail.html includes
    billing/_contract_tab.html)."""
    contract = selectors.contract_for_billing(contract.pk)
    invoices = list(selectors.invoice_list(contract_id=contract.pk).order_by("-id")[:CONTRACT_TAB_INVOICES])
    return {"summary": selectors.contract_billing(contract), "invoices": invoices, "today": timezone.localdate(),
            "more": len(invoices) == CONTRACT_TAB_INVOICES}


# ---------------------------------------------------------------- Títulos

class InvoiceListView(CapabilityRequiredMixin, TemplateView):
    template_name = "billing/invoice_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = InvoiceFilterForm(self.request.GET or None)
        # the form is InvoiceFilterSet's: a refused filter is shown next to its field
        filters = form.filter_values if form.is_valid() else {}
        qs = InvoiceFilterSet(filters).queryset()
        ctx.update(form=form, today=timezone.localdate(), contract_id=filters.get("contract_id"),
                   **keyset_context(self.request, qs, limit=PAGE_SIZE))
        return ctx


class InvoiceDetailView(CapabilityRequiredMixin, View):
    """The título; POST registers a payment (baixa) and shows the contract's new state."""

    action_capability = Capability.OPERATE
    template_name = "billing/invoice_detail.html"

    def _render(self, invoice, form, status=200):
        payments = list(invoice.payments.all())
        return render(self.request, self.template_name, {
            "invoice": invoice, "contract": invoice.contract, "form": form, "payments": payments,
            "lines": list(invoice.lines.all()), "overdue": selectors.is_overdue(invoice),
            "today": timezone.localdate(),
        }, status=status)

    def get(self, request, pk):
        return self._render(_invoice_or_404(pk), PaymentForm())

    def post(self, request, pk):
        invoice = _invoice_or_404(pk)
        form = PaymentForm(request.POST)
        if form.is_valid():
            access_before = invoice.contract.access_status
            try:
                outcome = services.payment_register(
                    invoice_id=invoice.pk, amount=form.cleaned_data["amount"],
                    paid_on=form.cleaned_data["paid_on"], external_id=form.cleaned_data["external_id"],
                    note=form.cleaned_data["note"], actor=request.user,
                )
            except ApplicationError as exc:
                apply_service_error(form, exc, {"amount": "amount", "paid_on": "paid_on",
                                                "external_id": "external_id"})
            else:
                messages.success(request, _payment_message(outcome, access_before))
                return HttpResponseRedirect(reverse("billing:invoice_detail", args=[pk]))
        return self._render(_invoice_or_404(pk), form, status=422)


def _payment_message(outcome, access_before) -> str:
    payment = outcome.payment
    if not outcome.created:
        return f"Este id de pagamento já foi aplicado (pagamento {payment.pk}); nada mudou."
    invoice = selectors.invoice_get(payment.invoice_id)
    contract = invoice.contract
    text = f"Pagamento de R$ {_brl(payment.amount)} registrado."
    if invoice.status == "paid":
        text += " Título quitado."
        if invoice.overpaid:
            text += f" R$ {_brl(invoice.overpaid)} pagos a maior viraram crédito do contrato."
    else:
        text += f" Saldo: R$ {_brl(invoice.balance)}."
    if access_before != contract.access_status and contract.access_status == AccessStatus.ACTIVE:
        text += (f" Contrato {contract.pk} liberado: acesso {access_before} → A (ativo); "
                 "os usuários SVA seguem na sincronização.")
    elif contract.access_status in (AccessStatus.OVERDUE, AccessStatus.AUTOMATIC_BLOCK):
        text += (f" O contrato {contract.pk} continua bloqueado ({contract.access_status}): "
                 "ainda há títulos vencidos em aberto.")
    return text


def _brl(value) -> str:
    """``1234.5`` → ``1.234,50`` (``format_brl`` without the "R$ " the messages write)."""
    return format_brl(value).removeprefix("R$ ")


class HeldPaymentsView(CapabilityRequiredMixin, View):
    """Financeiro > Pagamentos retidos: webhook payments above the título's open balance
    by more than the margin; POST applies or refuses one (``action`` = apply | refuse)."""

    action_capability = Capability.OPERATE
    template_name = "billing/held_payments.html"

    def _render(self, *, error="", failed=None, note="", status=200):
        payments = list(selectors.payment_list(status=PaymentStatus.HELD).select_related("invoice__customer"))
        return render(self.request, self.template_name, {
            "payments": payments, "error": error, "failed": failed, "note": note,
        }, status=status)

    def get(self, request):
        return self._render()

    def post(self, request):
        payment_id = request.POST.get("payment", "")
        action = request.POST.get("action", "")
        note = request.POST.get("note", "")[:250]
        if not payment_id.isdigit() or len(payment_id) > 12 or action not in ("apply", "refuse"):
            return self._render(error="Escolha um pagamento e uma ação (aplicar ou recusar).", status=422)
        try:
            if action == "apply":
                payment = services.payment_hold_apply(payment_id=int(payment_id), note=note, actor=request.user)
                text = (f"Pagamento {payment.pk} de R$ {_brl(payment.amount)} aplicado ao título "
                        f"{payment.invoice_id}.")
            else:
                payment = services.payment_hold_refuse(payment_id=int(payment_id), note=note, actor=request.user)
                text = f"Pagamento {payment.pk} recusado: não será contado."
        except ApplicationError as exc:
            message = exc.message
            if exc.fields:
                message = " ".join(e.message for errs in exc.fields.values() for e in errs)
            return self._render(error=message, failed=int(payment_id), note=note,
                                status=404 if exc.status_code == 404 else 422)
        messages.success(request, text)
        return HttpResponseRedirect(reverse("billing:held_payments"))


class InvoiceCancelView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE
    template_name = "billing/invoice_cancel.html"

    def _render(self, invoice, form, error=None):
        return render(self.request, self.template_name, {"invoice": invoice, "form": form, "error": error})

    def get(self, request, pk):
        return self._render(_invoice_or_404(pk), CancelForm())

    def post(self, request, pk):
        invoice = _invoice_or_404(pk)
        form = CancelForm(request.POST)
        if form.is_valid():
            try:
                services.invoice_cancel(invoice_id=pk, reason=form.cleaned_data["reason"], actor=request.user)
            except ApplicationError as exc:
                return self._render(invoice, form, error=exc.message)
            messages.success(request, f"Título {pk} cancelado.")
            return HttpResponseRedirect(reverse("billing:invoice_detail", args=[pk]))
        return self._render(invoice, form)


# ---------------------------------------------------------------- Importar pagamentos

class PaymentImportView(CapabilityRequiredMixin, View):
    action_capability = Capability.OPERATE
    template_name = "billing/payment_import.html"

    def _render(self, form, status=200):
        imports = list(selectors.payment_import_list().order_by("-id")[:RECENT])
        return render(self.request, self.template_name, {"form": form, "imports": imports}, status=status)

    def get(self, request):
        return self._render(PaymentImportForm())

    def post(self, request):
        form = PaymentImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                record = payments_import_csv(content=upload.read(), file_name=upload.name,
                                             provider=form.cleaned_data["provider"], actor=request.user)
            except ApplicationError as exc:
                apply_service_error(form, exc, {"provider": "provider", "file": "file"})
            else:
                level = messages.WARNING if record.lines_rejected else messages.SUCCESS
                messages.add_message(
                    request, level,
                    f"Importação {record.pk}: {record.lines_applied} aplicada(s), {record.lines_duplicate} "
                    f"já aplicada(s), {record.lines_rejected} recusada(s).",
                )
                return HttpResponseRedirect(reverse("billing:import_detail", args=[record.pk]))
        return self._render(form, status=422)


class PaymentImportDetailView(CapabilityRequiredMixin, TemplateView):
    template_name = "billing/payment_import_detail.html"

    def get_context_data(self, pk, **kwargs):
        ctx = super().get_context_data(**kwargs)
        record = selectors.payment_import_get(pk)
        if record is None:
            raise Http404("Importação não encontrada.")
        rows = [{**entry, "status_label": STATUS_LABELS[entry["status"]], "amount": _report_amount(entry["amount"]),
                 "paid_on": _report_date(entry["paid_on"])} for entry in record.report]
        ctx.update(record=record, rows=rows)
        return ctx


def _report_amount(text: str) -> str:
    """The report keeps "109.90" for parsed amounts and the file's text otherwise."""
    if re.fullmatch(r"\d+\.\d{2}", text or ""):
        return "R$ " + _brl(Decimal(text))
    return text


def _report_date(text: str) -> str:
    try:
        return date.fromisoformat(text).strftime("%d/%m/%Y") if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or "") else text
    except ValueError:
        return text


# ---------------------------------------------------------------- Faturamento

class BillingRunView(CapabilityRequiredMixin, View):
    action_capability = Capability.OPERATE
    template_name = "billing/billing_runs.html"

    def _render(self, form, status=200):
        runs = list(selectors.billing_run_list().order_by("-id")[:RECENT])
        return render(self.request, self.template_name, {"form": form, "runs": runs,
                                                         "first_due_days": settings.BILLING_FIRST_DUE_MIN_DAYS},
                      status=status)

    def get(self, request):
        return self._render(BillingRunForm(initial={"period": f"{timezone.localdate():%Y-%m}"}))

    # the run itself is billed by a task: see BillingRunDetailView

    def post(self, request):
        form = BillingRunForm(request.POST)
        if form.is_valid():
            try:
                period = services.parse_period(form.cleaned_data["period"].strip())
                run = services.billing_run_queue(period=period, actor=request.user)
            except ApplicationError as exc:
                form.add_error("period", exc.message)
            else:
                messages.info(request, f"Faturamento da competência {run.period:%m/%Y} na fila: acompanhe aqui.")
                return HttpResponseRedirect(reverse("billing:run_detail", args=[run.pk]))
        return self._render(form, status=422)


class BillingRunDetailView(CapabilityRequiredMixin, View):
    """One billing run and its progress; while it is queued or running, htmx polls the
    progress partial every second (``?parcial=1``) and the page shows the final counts
    when it ends. The run is billed by a task (billing/tasks.py), never in the request."""

    template_name = "billing/billing_run_detail.html"

    def get(self, request, pk):
        run = selectors.billing_run_list().filter(pk=pk).first()
        if run is None:
            raise Http404
        task = task_get(run.task_id) if run.task_id else None
        context = {"run": run, "task": task_data(task) if task else None,
                   "active": run.finished_at is None and (task is None or task.status in ("READY", "RUNNING"))}
        if request.GET.get("parcial"):
            return render(request, "billing/_billing_run_progress.html", context)
        return render(request, self.template_name, context)

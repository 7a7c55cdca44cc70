"""Pages of Configurações > Financeiro > Contas PIX (administrators), the refund of a Pix
from the título page, and the PSP's webhook endpoint (no session: the secret in its path
identifies the account, and every Pix it names is confirmed with the PSP before it counts)."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView

from agrega.core.errors import ApplicationError
from agrega.core.roles import Capability
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import apply_service_error

from . import recurrence, selectors, services
from .forms import PixAccountForm, RefundForm
from .models import PixAccount
from .tasks import queue_reconcile

MAX_WEBHOOK_BYTES = 1024 * 1024


class AccountListView(CapabilityRequiredMixin, TemplateView):
    capability = Capability.CONFIGURE
    template_name = "pix/account_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["rows"] = selectors.account_list()
        ctx["expiring"] = {a.pk for a in services.cert_expiring()}
        ctx["public_url"] = settings.AGREGA_PUBLIC_URL or self.request.build_absolute_uri("/").rstrip("/")
        return ctx


class _AccountFormView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE
    editing = False

    def render_form(self, form, account=None, status=200):
        return render(self.request, "pix/account_form.html",
                      {"form": form, "account": account, "editing": self.editing}, status=status)


class AccountCreateView(_AccountFormView):
    def get(self, request):
        return self.render_form(PixAccountForm())

    def post(self, request):
        form = PixAccountForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.service_data()
            data["client_secret"] = data["client_secret"] or ""
            try:
                account = services.account_create(actor=request.user, **data)
            except ApplicationError as exc:
                apply_service_error(form, exc, {})
            else:
                messages.success(request, f"Conta PIX “{account.name}” cadastrada.")
                return redirect("pix:list")
        return self.render_form(form, status=422)


class AccountEditView(_AccountFormView):
    editing = True

    def _account(self, pk):
        account = PixAccount.objects.filter(pk=pk).first()
        if account is None:
            raise Http404("Conta PIX não encontrada.")
        return account

    def get(self, request, pk: int):
        a = self._account(pk)
        initial = {f: getattr(a, f) for f in ("name", "base_url", "token_url", "client_id", "chave", "adapter",
                                              "validade_apos_vencimento", "timeout_seconds", "active", "psp_ca_pem")}
        return self.render_form(PixAccountForm(initial=initial), a)

    def post(self, request, pk: int):
        a = self._account(pk)
        form = PixAccountForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.service_data()
            data["active"] = form.cleaned_data["active"]
            try:
                services.account_update(account_id=a.pk, actor=request.user, **data)
            except ApplicationError as exc:
                apply_service_error(form, exc, {})
            else:
                messages.success(request, f"Conta PIX “{a.name}” salva.")
                return redirect("pix:list")
        return self.render_form(form, a, status=422)


class AccountActionView(CapabilityRequiredMixin, View):
    """POST: testar conexão, registrar webhook, criar cobranças dos títulos em aberto."""

    capability = Capability.CONFIGURE

    def post(self, request, pk: int, action: str):
        if not PixAccount.objects.filter(pk=pk).exists():
            raise Http404("Conta PIX não encontrada.")
        try:
            if action == "testar-conexao":
                account = services.account_check(account_id=pk, actor=request.user)
                level = messages.SUCCESS if account.last_check_ok else messages.ERROR
                messages.add_message(request, level, f"{account.name}: {account.last_check_message}")
                if account.last_check_warning:
                    messages.warning(request, f"{account.name}: {account.last_check_warning}")
            elif action == "registrar-webhook":
                public = (request.POST.get("public_url") or settings.AGREGA_PUBLIC_URL
                          or request.build_absolute_uri("/")).strip()
                account = services.account_register_webhook(account_id=pk, public_url=public, actor=request.user)
                messages.success(request, f"Webhook registrado no PSP: {account.webhook_url.rsplit('/', 1)[0]}/…")
                if account.webhook_automatico_error:
                    messages.warning(request, account.webhook_automatico_error)
            elif action == "criar-cobrancas":
                count = services.charges_for_open_invoices(account_id=pk)
                messages.success(request, f"{count} título(s) em aberto enviados para cobrança PIX.")
            elif action == "reconciliar":
                result = queue_reconcile(account_id=pk)
                # the PSP is read by the task worker: the task's page follows it
                messages.info(request, "Reconciliação PIX na fila: acompanhe aqui; o resultado aparece ao terminar.")
                return redirect("web:task", task_id=str(result.id))
            else:
                raise Http404("Ação desconhecida.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        except services.PixError as exc:
            messages.error(request, f"PSP: {exc}")
        return redirect("pix:list")


class RefundView(CapabilityRequiredMixin, View):
    """Devolver (parte de) um Pix recebido, da página do título."""

    capability = Capability.OPERATE

    def post(self, request, payment_id: int):
        form = RefundForm(request.POST)
        raw = request.POST.get("invoice") or ""
        invoice_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None
        if form.is_valid():
            try:
                refund = services.refund_request(payment_id=payment_id, amount=form.cleaned_data["amount"],
                                                 reason=form.cleaned_data.get("reason") or "",
                                                 invoice_id=invoice_id,
                                                 actor=request.user)
                messages.success(request, f"Devolução {refund.refund_id}: {refund.get_status_display()}.")
            except ApplicationError as exc:
                messages.error(request, exc.message)
        else:
            messages.error(request, " ".join(f"{form.fields[name].label}: {error}"
                                             for name, errors in form.errors.items() for error in errors))
        if invoice_id is not None:
            return redirect("billing:invoice_detail", invoice_id)
        return redirect("billing:invoice_list")


class RecurrenceView(CapabilityRequiredMixin, View):
    """Pix Automático of a contract: start (POST /rec), send the request to the payer's
    bank (POST /solicrec) or cancel."""

    capability = Capability.OPERATE

    def post(self, request, contract_id: int, action: str):
        try:
            if action == "iniciar":
                rec = recurrence.recurrence_start(contract_id=contract_id, actor=request.user,
                                                  fixed_amount=request.POST.get("fixed_amount") or None)
                if rec.status == "INCERTA":
                    messages.warning(request, recurrence.UNKNOWN_MESSAGE)
                else:
                    messages.success(request, f"Pix Automático solicitado: {rec.get_status_display()}.")
            elif action == "solicitar-ao-banco":
                rec = recurrence.solicrec_send(contract_id=contract_id, actor=request.user,
                                               ispb=request.POST.get("ispb", ""), conta=request.POST.get("conta", ""),
                                               agencia=request.POST.get("agencia", ""),
                                               fixed_amount=request.POST.get("fixed_amount") or None)
                if rec.solicrec_status == "INCERTA":
                    messages.warning(request, recurrence.UNKNOWN_MESSAGE)
                else:
                    messages.success(request, f"Solicitação enviada ao banco do pagador: "
                                              f"{rec.get_solicrec_status_display()}.")
            elif action == "cancelar":
                recurrence.recurrence_cancel(contract_id=contract_id, actor=request.user)
                messages.success(request, "Pix Automático cancelado.")
            else:
                raise Http404("Ação desconhecida.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("contracts:detail", contract_id)


def _body(request) -> dict | None:
    if len(request.body) > MAX_WEBHOOK_BYTES:
        return None
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@method_decorator(csrf_exempt, name="dispatch")
class WebhookView(View):
    """``POST <url>/pix`` (Pix received), ``<url>/rec`` and ``<url>/cobr`` (Pix Automático)."""

    kind = "pix"

    def post(self, request, secret: str):
        body = _body(request)
        if body is None:
            return JsonResponse({"error": {"code": "pix_webhook_invalid", "message": "Corpo inválido."}}, status=400)
        try:
            if self.kind == "pix":
                result = services.webhook_receive(secret=secret, body=body)
            elif self.kind == "rec":
                result = recurrence.webhook_rec_receive(secret=secret, body=body)
            else:
                result = recurrence.webhook_cobr_receive(secret=secret, body=body)
        except ApplicationError as exc:
            status = 404 if exc.code == "pix_webhook_unknown" else 400
            return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=status)
        return JsonResponse(result, status=200)

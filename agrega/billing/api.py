"""/api/invoices, /api/payments, /api/billing and the billing side of /api/contracts/{id}.

Money is a string with two decimals (``"109.90"``) in every answer. The payment webhook
(``POST /api/payments/webhook``) takes no user token: the body is signed with
HMAC-SHA256 and the shared secret (docs/payments.md)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from agrega.core.text import ModelText
from agrega.billing.models import Invoice, Payment
from agrega.core.errors import ApplicationError, NotFound
from agrega.core.money import AmountIn

from . import selectors, services
from .filtersets import InvoiceFilterSet, PaymentFilterSet
from .imports import MAX_BYTES, payments_import_csv
from .models import InvoiceStatus, PaymentStatus
from .webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, payment_webhook_receive

invoices_router = Router(tags=["Títulos"])
payments_router = Router(tags=["Pagamentos"])
billing_router = Router(tags=["Faturamento"])
contract_router = Router(tags=["Contratos"])

def _money(value: Decimal) -> str:
    return f"{value:.2f}"


class InvoiceOut(Schema):
    id: int
    contract_id: int
    customer_id: int
    customer_name: str
    period: str
    issued_on: date
    due_date: date
    amount: str
    credit_applied: str
    paid_amount: str
    balance: str
    overpaid: str
    status: str
    status_display: str
    overdue: bool
    paid_at: date | None
    cancelled_at: datetime | None
    cancel_reason: str
    created_at: datetime

    @staticmethod
    def resolve_customer_name(obj) -> str:
        return obj.customer.name

    @staticmethod
    def resolve_period(obj) -> str:
        return f"{obj.period:%Y-%m}"

    @staticmethod
    def resolve_amount(obj) -> str:
        return _money(obj.amount)

    @staticmethod
    def resolve_credit_applied(obj) -> str:
        return _money(obj.credit_applied)

    @staticmethod
    def resolve_paid_amount(obj) -> str:
        return _money(obj.paid_amount)

    @staticmethod
    def resolve_balance(obj) -> str:
        return _money(obj.balance)

    @staticmethod
    def resolve_overpaid(obj) -> str:
        return _money(obj.overpaid)

    @staticmethod
    def resolve_status_display(obj) -> str:
        return obj.get_status_display()

    @staticmethod
    def resolve_overdue(obj) -> bool:
        return selectors.is_overdue(obj)


class InvoiceLineOut(Schema):
    id: int
    product_id: int | None
    contract_product_id: int | None
    description: str
    fiscal_class: str
    unit_price: str
    days: int
    days_in_period: int
    prorated: bool
    amount: str

    @staticmethod
    def resolve_unit_price(obj) -> str:
        return _money(obj.unit_price)

    @staticmethod
    def resolve_amount(obj) -> str:
        return _money(obj.amount)

    @staticmethod
    def resolve_prorated(obj) -> bool:
        return obj.days < obj.days_in_period


class PaymentOut(Schema):
    id: int
    invoice_id: int
    amount: str
    paid_on: date
    method: str
    provider: str
    external_id: str
    note: str
    actor_label: str
    payment_import_id: int | None
    status: str
    status_display: str
    hold_reason: str
    decided_at: datetime | None
    decided_by: str
    decision_note: str
    created_at: datetime

    @staticmethod
    def resolve_amount(obj) -> str:
        return _money(obj.amount)

    @staticmethod
    def resolve_status_display(obj) -> str:
        return obj.get_status_display()


class InvoicePixBriefOut(Schema):
    """The título's PIX (cobv) as the PSP answered it; the QR code is at ``/pix``."""

    txid: str
    status: str
    status_label: str
    copia_e_cola: str
    location: str


class InvoiceDetailOut(InvoiceOut):
    lines: list[InvoiceLineOut]
    payments: list[PaymentOut]
    pix: InvoicePixBriefOut | None = None

    @staticmethod
    def resolve_pix(obj):
        return selectors.invoice_pix_brief(obj)

    @staticmethod
    def resolve_lines(obj):
        return list(obj.lines.all())

    @staticmethod
    def resolve_payments(obj):
        return list(obj.payments.all())


class PaymentResultOut(Schema):
    """The payment and the título as it is now. ``created`` is false when this payment id
    had already been applied: nothing changed."""

    created: bool
    payment: PaymentOut
    invoice: InvoiceOut


class PaymentIn(InputSchema):
    amount: AmountIn
    paid_on: date | None = None
    note: ModelText(Payment, "note") = ""
    external_id: ModelText(Payment, "external_id") = ""


class CancelIn(InputSchema):
    reason: ModelText(Invoice, "cancel_reason") = ""


class DecisionIn(InputSchema):
    note: ModelText(Payment, "decision_note") = ""


class WebhookIn(Schema):
    """Documented here; the endpoint reads the raw body (the signature covers its bytes).
    ``provider`` is optional: the secret that signed names the provider."""

    provider: str | None = None
    payment_id: str
    invoice_id: int
    amount: str
    paid_on: date


class BillingRunIn(InputSchema):
    period: str


class BillingRunOut(Schema):
    id: int
    period: str
    started_at: datetime
    finished_at: datetime | None
    contracts_seen: int
    invoices_created: int
    lines_created: int
    total_amount: str
    actor_label: str
    task_id: str
    task_url: str | None = None

    @staticmethod
    def resolve_task_url(obj) -> str | None:
        return reverse("api:task_detail", args=[obj.task_id]) if obj.task_id else None

    @staticmethod
    def resolve_period(obj) -> str:
        return f"{obj.period:%Y-%m}"

    @staticmethod
    def resolve_total_amount(obj) -> str:
        return _money(obj.total_amount)


class ImportLineOut(Schema):
    line: int
    external_id: str
    invoice_id: int | None
    amount: str
    paid_on: str
    status: str
    code: str
    message: str
    payment: int | None


class PaymentImportOut(Schema):
    id: int
    file_name: str
    sha256: str
    provider: str
    lines_total: int
    lines_applied: int
    lines_duplicate: int
    lines_rejected: int
    actor_label: str
    created_at: datetime


class PaymentImportDetailOut(PaymentImportOut):
    report: list[ImportLineOut]




class ContractBillingOut(Schema):
    contract_id: int
    status: str
    access_status: str
    open_balance: str
    open_invoices: int
    overdue_balance: str
    oldest_open_due: date | None
    credit_balance: str
    dunning_policy: str
    dunning_level: int
    dunning_stage: str
    trust_release_until: datetime | None
    trust_release_available: bool
    trust_release_unavailable_reason: str
    trust_release_unavailable_code: str
    trust_releases_used: int
    trust_release_max_uses: int
    trust_release_period_days: int
    trust_release_max_days: int
    trust_release_next_available_at: datetime | None


def _invoice_or_404(invoice_id: int):
    invoice = selectors.invoice_get(invoice_id)
    if invoice is None:
        raise NotFound("Título", "invoice_not_found")
    return invoice


def _payment_result(outcome: services.PaymentOutcome):
    body = {"created": outcome.created, "payment": outcome.payment,
            "invoice": selectors.invoice_get(outcome.payment.invoice_id)}
    return Status(201 if outcome.created else 200, body)


# ---------------------------------------------------------------- /api/invoices

INVOICE_LIST_HELP = (
    "Filtros: `contract_id`, `customer_id`, `status` (" + ", ".join(InvoiceStatus.values)
    + "), `period` (competência AAAA-MM), `overdue` (true: em aberto e vencido antes de hoje; "
    "false: os demais). Valores em reais como texto com duas casas (\"109.90\")."
)


@invoices_router.get("", response={200: Page[InvoiceOut], 400: ErrorOut, 401: ErrorOut, 422: ErrorOut},
                     summary="Listar títulos", description=INVOICE_LIST_HELP)
def invoice_list(
    request: HttpRequest,
    contract_id: InvoiceFilterSet.api_type("contract_id") | None = None,
    customer_id: InvoiceFilterSet.api_type("customer_id") | None = None,
    status: InvoiceFilterSet.api_type("status") = None,
    period: str | None = Query(None, pattern=r"^\d{4}-\d{2}$", description="competência AAAA-MM"),
    overdue: InvoiceFilterSet.api_type("overdue") | None = None,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    # the filters are InvoiceFilterSet's (billing/filtersets.py), as on the page and in the CLI
    qs = selectors.invoice_list(
        contract_id=contract_id, customer_id=customer_id, status=status,
        period=services.parse_period(period) if period else None, overdue=overdue,
    )
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@invoices_router.get("/{invoice_id}", response={200: InvoiceDetailOut, 401: ErrorOut, 404: ErrorOut},
                     summary="Consultar título",
                     description="Com os itens (classe fiscal, dias cobrados), os pagamentos, o saldo, "
                     "o valor pago a maior e o crédito aplicado.")
def invoice_detail(request: HttpRequest, invoice_id: int):
    return _invoice_or_404(invoice_id)


@invoices_router.post(
    "/{invoice_id}/payments",
    response={200: PaymentResultOut, 201: PaymentResultOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
              409: ErrorOut, 422: ErrorOut},
    summary="Registrar pagamento (baixa manual)",
    description="`amount` como \"109.90\" ou \"109,90\"; `paid_on` (padrão: hoje). Com `external_id`, "
    "repetir a mesma baixa responde 200 com o pagamento já registrado e não muda nada; o mesmo "
    "`external_id` com outro valor ou título responde 409 `payment_id_reused`. Pagar a mais "
    "quita o título e o excesso vira crédito do contrato.",
)
def invoice_pay(request: HttpRequest, invoice_id: int, payload: PaymentIn):
    outcome = services.payment_register(
        invoice_id=invoice_id, amount=payload.amount, paid_on=payload.paid_on, note=payload.note,
        external_id=payload.external_id, actor=request.user,
    )
    return _payment_result(outcome)


@invoices_router.post(
    "/{invoice_id}/cancel",
    response={200: InvoiceOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Cancelar título",
    description="Só títulos sem pagamento; o crédito aplicado volta para o contrato.",
)
def invoice_cancel(request: HttpRequest, invoice_id: int, payload: CancelIn):
    invoice = services.invoice_cancel(invoice_id=invoice_id, reason=payload.reason, actor=request.user)
    return selectors.invoice_get(invoice.pk)


# ---------------------------------------------------------------- /api/payments

@payments_router.post(
    "/webhook",
    auth=None,
    response={200: PaymentResultOut, 201: PaymentResultOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut,
              409: ErrorOut, 413: ErrorOut, 422: ErrorOut, 503: ErrorOut},
    summary="Webhook de pagamento (provedor de pagamentos)",
    description=(
        "Sem token de usuário: `" + TIMESTAMP_HEADER + ": <segundos Unix>` e `" + SIGNATURE_HEADER
        + ": sha256=<hex>`, o HMAC-SHA256 de `<timestamp>.<corpo>` com o segredo do provedor "
        "(`AGREGA_PAYMENT_WEBHOOK_SECRETS`); o segredo que confere define o provedor. "
        "Corpo: `{payment_id, invoice_id, amount, paid_on}`. Idempotente por `payment_id`: a "
        "reentrega responde 200 com o mesmo pagamento; o mesmo id vindo de outro provedor, 409 "
        "`payment_id_other_provider`. Valor acima do saldo em aberto mais a margem "
        "(`AGREGA_PAYMENT_HOLD_MARGIN`): o pagamento fica retido (`status: held`) até um operador "
        "aplicar ou recusar. 401 `signature_invalid`, `timestamp_invalid`, `timestamp_expired`; "
        "503 `webhook_disabled` sem segredo configurado. Veja docs/payments.md."
    ),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": WebhookIn.model_json_schema()}}}},
)
def payment_webhook(request: HttpRequest):
    return _payment_result(
        payment_webhook_receive(body=request.body, signature=request.headers.get(SIGNATURE_HEADER),
                                timestamp=request.headers.get(TIMESTAMP_HEADER))
    )


@payments_router.get("", response={200: Page[PaymentOut], 401: ErrorOut, 422: ErrorOut},
                     summary="Listar pagamentos",
                     description="Filtro `status` (" + ", ".join(PaymentStatus.values) + "): `held` lista os "
                     "pagamentos retidos que aguardam um operador.")
def payment_list(request: HttpRequest, status: PaymentFilterSet.api_type("status") = None,
                 cursor: Cursor | None = None, limit: int = Query(50, ge=1, le=500)):
    # the filter is PaymentFilterSet's (billing/filtersets.py), as in the CLI (agrega payments list)
    items, next_cursor = keyset_page(PaymentFilterSet({"status": status}).queryset(), cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@payments_router.post(
    "/{payment_id}/apply",
    response={200: PaymentResultOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Aplicar pagamento retido",
    description="O pagamento retido quita o título como qualquer pagamento (o excesso vira crédito). "
    "409 `payment_not_held` se ele não está retido.",
)
def payment_apply(request: HttpRequest, payment_id: int, payload: DecisionIn | None = None):
    payment = services.payment_hold_apply(payment_id=payment_id, note=(payload or DecisionIn()).note,
                                          actor=request.user)
    return Status(200, {"created": False, "payment": payment, "invoice": selectors.invoice_get(payment.invoice_id)})


@payments_router.post(
    "/{payment_id}/refuse",
    response={200: PaymentResultOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Recusar pagamento retido",
    description="`note` (motivo) obrigatório. O pagamento fica registrado como recusado e nunca é contado; "
    "uma reentrega o encontra e não muda nada.",
)
def payment_refuse(request: HttpRequest, payment_id: int, payload: DecisionIn):
    payment = services.payment_hold_refuse(payment_id=payment_id, note=payload.note, actor=request.user)
    return Status(200, {"created": False, "payment": payment, "invoice": selectors.invoice_get(payment.invoice_id)})


@payments_router.post(
    "/imports",
    response={201: PaymentImportDetailOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 413: ErrorOut,
              422: ErrorOut},
    summary="Importar arquivo de pagamentos (CSV)",
    description="multipart: `file` e `provider` (a origem, ex.: o banco). Colunas "
    "`id_pagamento;titulo;valor;data_pagamento` (separador ; ou ,; UTF-8 ou latin-1). Cada linha "
    "é aplicada uma vez só; o relatório diz, por linha, aplicado / já aplicado / recusado com o "
    "código e o motivo. Veja docs/payments.md.",
)
def payment_import(request: HttpRequest, file: File[UploadedFile], provider: Form[str]):
    if file.size and file.size > MAX_BYTES:
        raise ApplicationError("file_too_large", f"O arquivo passa de {MAX_BYTES // (1024 * 1024)} MB.",
                               status_code=422)
    record = payments_import_csv(content=file.read(), file_name=file.name, provider=provider,
                                 actor=request.user)
    return Status(201, record)


@payments_router.get("/imports", response={200: Page[PaymentImportOut], 401: ErrorOut, 422: ErrorOut},
                     summary="Importações de pagamentos")
def payment_import_list(request: HttpRequest, cursor: Cursor | None = None, limit: int = Query(50, ge=1, le=500)):
    items, next_cursor = keyset_page(selectors.payment_import_list(), cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@payments_router.get("/imports/{import_id}", response={200: PaymentImportDetailOut, 401: ErrorOut, 404: ErrorOut},
                     summary="Consultar importação de pagamentos", description="Com o relatório por linha.")
def payment_import_detail(request: HttpRequest, import_id: int):
    record = selectors.payment_import_get(import_id)
    if record is None:
        raise NotFound("Importação de pagamentos", "payment_import_not_found")
    return record


# ---------------------------------------------------------------- /api/billing

@billing_router.post(
    "/runs",
    response={202: BillingRunOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    summary="Faturar uma competência",
    description="Enfileira o faturamento da competência `period` (AAAA-MM): um título por contrato ativo. "
    "Responde 202 na hora, com o faturamento (`finished_at` nulo enquanto roda) e `Location`/`task_url` "
    "apontando para `GET /api/tasks/{id}`; o progresso fica em `GET /api/billing/runs/{id}`. Pode ser "
    "repetido: contratos já faturados nesta competência são pulados.",
)
def billing_run_create(request: HttpRequest, payload: BillingRunIn, response: HttpResponse):
    run = services.billing_run_queue(period=services.parse_period(payload.period.strip()), actor=request.user)
    response["Location"] = reverse("api:task_detail", args=[run.task_id])
    return Status(202, run)


@billing_router.get("/runs/{run_id}", response={200: BillingRunOut, 401: ErrorOut, 404: ErrorOut},
                    summary="Consultar faturamento (progresso)")
def billing_run_detail(request: HttpRequest, run_id: int):
    run = selectors.billing_run_list().filter(pk=run_id).first()
    if run is None:
        raise NotFound("Faturamento", "billing_run_not_found")
    return run


@billing_router.get("/runs", response={200: Page[BillingRunOut], 401: ErrorOut, 422: ErrorOut},
                    summary="Faturamentos executados")
def billing_run_list(request: HttpRequest, cursor: Cursor | None = None, limit: int = Query(50, ge=1, le=500)):
    items, next_cursor = keyset_page(selectors.billing_run_list(), cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


# ---------------------------------------------------------------- /api/contracts/{id}

def _contract_or_404(contract_id: int):
    contract = selectors.contract_for_billing(contract_id)
    if contract is None:
        raise NotFound("Contrato", "contract_not_found")
    return contract


@contract_router.get(
    "/{contract_id}/billing",
    response={200: ContractBillingOut, 401: ErrorOut, 404: ErrorOut},
    summary="Financeiro do contrato",
    description="Saldo em aberto, vencimento mais antigo, etapa da régua, crédito, desbloqueio de "
    "confiança (até quando, usos no período e se está disponível agora — e por que não).",
)
def contract_billing(request: HttpRequest, contract_id: int):
    summary = selectors.contract_billing(_contract_or_404(contract_id))
    c, trust = summary.contract, summary.trust
    return {
        "contract_id": c.pk, "status": c.status, "access_status": c.access_status,
        "open_balance": _money(summary.open_balance), "open_invoices": summary.open_invoices,
        "overdue_balance": _money(summary.overdue_balance), "oldest_open_due": summary.oldest_open_due,
        "credit_balance": _money(summary.credit_balance), "dunning_policy": summary.dunning_policy,
        "dunning_level": summary.dunning_level, "dunning_stage": summary.dunning_stage,
        "trust_release_until": summary.trust_release_until,
        "trust_release_available": trust.available, "trust_release_unavailable_reason": trust.reason,
        "trust_release_unavailable_code": trust.code, "trust_releases_used": trust.used,
        "trust_release_max_uses": trust.max_uses, "trust_release_period_days": trust.period_days,
        "trust_release_max_days": trust.max_days, "trust_release_next_available_at": trust.next_available_at,
    }

"""/api/pix-accounts (administrators: PSP accounts, write-only secrets) and the Pix of a
título (/api/invoices/{id}/pix: copia-e-cola, QR code SVG; refunds) and of a contract
(/api/contracts/{id}/pix-automatico)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema

from agrega.core.api import ErrorOut, InputSchema
from agrega.core.errors import ApplicationError, NotFound
from agrega.core.tasks_api import TaskOut, task_accepted

from . import certs, recurrence, selectors, services
from .models import PixAccount
from .tasks import queue_reconcile

router = Router(tags=["PIX"])
invoice_router = Router(tags=["PIX"])
contract_router = Router(tags=["PIX"])


class AccountOut(Schema):
    id: int
    name: str
    base_url: str
    token_url: str
    client_id: str
    chave: str
    adapter: str
    validade_apos_vencimento: int
    active: bool
    cert_subject: str
    cert_not_after: datetime | None
    cert_expiring: bool
    secrets_set: bool
    scopes_granted: str
    last_check_at: datetime | None
    last_check_ok: bool | None
    last_check_code: str
    last_check_message: str
    last_check_warning: str
    webhook_registered_at: datetime | None
    webhook_automatico_error: str
    psp_ca_pem: str
    psp_ca: str = Field(description="Titulares e validade dos certificados da CA do PSP (vazio: só as CAs do sistema)")


def _out(a: PixAccount) -> dict:
    return {**{f: getattr(a, f) for f in AccountOut.model_fields if hasattr(a, f)},
            "cert_expiring": a.pk in {x.pk for x in services.cert_expiring()},
            "secrets_set": bool(a.secrets_encrypted), "psp_ca": certs.describe_ca(a.psp_ca_pem)}


class AccountIn(InputSchema):
    name: str
    base_url: str
    client_id: str
    client_secret: str
    chave: str
    token_url: str = ""
    adapter: str = "padrao"
    validade_apos_vencimento: int = 30
    timeout_seconds: float = 10.0
    pkcs12_base64: str = ""
    cert_password: str = ""
    cert_pem: str = ""
    key_pem: str = ""
    psp_ca_pem: str = Field("", description="CA do PSP (PEM, público): um ou mais certificados que validam o "
                                           "servidor do PSP, além das CAs do sistema")


class AccountPatch(InputSchema):
    name: str | None = None
    base_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    chave: str | None = None
    token_url: str | None = None
    adapter: str | None = None
    validade_apos_vencimento: int | None = None
    timeout_seconds: float | None = None
    active: bool | None = None
    pkcs12_base64: str = ""
    cert_password: str = ""
    cert_pem: str = ""
    key_pem: str = ""
    psp_ca_pem: str | None = Field(None, description="CA do PSP (PEM); omitido: mantém; vazio: remove")


def _p12(value: str) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApplicationError("certificate_invalid", "pkcs12_base64 não é base64 válido.") from None


@router.get("", response={200: list[AccountOut], 401: ErrorOut, 403: ErrorOut}, summary="Listar contas PIX")
def account_list(request: HttpRequest):
    return [_out(a) for a in selectors.account_list()]


@router.post("", response={201: AccountOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
             summary="Cadastrar conta PIX",
             description="Segredos (client_secret, certificado) são somente escrita: guardados cifrados.")
def account_create(request: HttpRequest, payload: AccountIn):
    data = payload.dict()
    p12 = _p12(data.pop("pkcs12_base64"))
    account = services.account_create(actor=request.user, pkcs12_data=p12, **data)
    return 201, _out(account)


@router.get("/{account_id}", response={200: AccountOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
            summary="Consultar conta PIX")
def account_detail(request: HttpRequest, account_id: int):
    account = PixAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise NotFound("Conta PIX", "pix_account_not_found")
    return _out(account)


@router.patch("/{account_id}", response={200: AccountOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                                         422: ErrorOut}, summary="Alterar conta PIX")
def account_patch(request: HttpRequest, account_id: int, payload: AccountPatch):
    data = payload.dict()
    p12 = _p12(data.pop("pkcs12_base64"))
    fields = {k: v for k, v in data.items() if v is not None}
    return _out(services.account_update(account_id=account_id, actor=request.user, pkcs12_data=p12, **fields))


@router.post("/{account_id}/check", response={200: AccountOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
             summary="Testar conexão (token e escopos)")
def account_check(request: HttpRequest, account_id: int):
    return _out(services.account_check(account_id=account_id, actor=request.user))


class WebhookIn(InputSchema):
    public_url: str


@router.post("/{account_id}/webhook", response={200: AccountOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
             summary="Registrar o webhook no PSP (PUT /webhook/{chave})")
def account_webhook(request: HttpRequest, account_id: int, payload: WebhookIn):
    return _out(services.account_register_webhook(account_id=account_id, public_url=payload.public_url,
                                                  actor=request.user))


class CountOut(Schema):
    count: int


@router.post("/{account_id}/charges", response={200: CountOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
             summary="Criar cobranças (cobv) dos títulos em aberto")
def account_charges(request: HttpRequest, account_id: int):
    return {"count": services.charges_for_open_invoices(account_id=account_id)}


@router.post("/{account_id}/reconcile", response={202: TaskOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
             summary="Reconciliar agora (GET /pix)",
             description="Consulta `GET /pix` no PSP (todas as páginas) e dá baixa no que um webhook perdido "
             "deixou de fora, em segundo plano: responde 202 na hora com a tarefa (`Location`: "
             "`GET /api/tasks/{id}`), cujo `result` traz `seen` (Pix consultados) e `applied` (baixas feitas).")
def account_reconcile(request: HttpRequest, account_id: int, response: HttpResponse):
    return task_accepted(response, queue_reconcile(account_id=account_id).id)


class EarlierChargeOut(Schema):
    txid: str
    status: str
    status_label: str
    amount: str = Field(description="Valor cobrado (vazio se nunca foi enviada ao PSP).")


class InvoicePixOut(Schema):
    txid: str
    status: str
    status_label: str
    amount: str = Field(description="O que a cobrança atual cobra: o saldo do título quando foi enviada.")
    copia_e_cola: str
    location: str
    qr_svg: str
    last_error: str
    history: list[EarlierChargeOut] = Field(
        description="Cobranças anteriores do título (pagas em parte, devolvidas, removidas): histórico, não pagáveis.")


@invoice_router.get("/{invoice_id}/pix", response={200: InvoicePixOut, 401: ErrorOut, 404: ErrorOut},
                    summary="PIX do título (copia-e-cola e QR code)")
def invoice_pix(request: HttpRequest, invoice_id: int):
    data = selectors.invoice_pix(invoice_id)
    if data is None:
        raise NotFound("Cobrança PIX", "pix_charge_not_found")
    return data


class RefundIn(InputSchema):
    payment_id: int
    amount: str
    reason: str = Field("", max_length=services.REFUND_REASON_MAX)


class RefundOut(Schema):
    refund_id: str
    amount: str
    status: str


@invoice_router.post("/{invoice_id}/pix/refunds", response={201: RefundOut, 401: ErrorOut, 403: ErrorOut,
                                                            404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
                     summary="Devolver (parte de) um Pix recebido")
def invoice_refund(request: HttpRequest, invoice_id: int, payload: RefundIn):
    refund = services.refund_request(payment_id=payload.payment_id, amount=payload.amount, reason=payload.reason,
                                     invoice_id=invoice_id, actor=request.user)
    return 201, {"refund_id": refund.refund_id, "amount": f"{refund.amount:.2f}", "status": refund.status}


class RecurrenceIn(InputSchema):
    fixed_amount: str | None = None
    retry_policy: str = "PERMITE_3R_7D"


class RecurrenceOut(Schema):
    id_rec: str
    status: str
    fixed_amount: str | None
    solicrec_id: str = ""
    solicrec_status: str = ""


class SolicRecIn(InputSchema):
    ispb: str
    conta: str
    agencia: str = ""
    fixed_amount: str | None = None
    retry_policy: str = "PERMITE_3R_7D"


def _rec(rec) -> dict:
    return {"id_rec": rec.id_rec, "status": rec.status,
            "fixed_amount": f"{rec.fixed_amount:.2f}" if rec.fixed_amount is not None else None,
            "solicrec_id": rec.solicrec_id, "solicrec_status": rec.solicrec_status}


@contract_router.post("/{contract_id}/pix-automatico/solicitacao",
                      response={201: RecurrenceOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
                                422: ErrorOut},
                      summary="Enviar a solicitação de Pix Automático ao banco do pagador (POST /solicrec)")
def solicrec_send(request: HttpRequest, contract_id: int, payload: SolicRecIn):
    rec = recurrence.solicrec_send(contract_id=contract_id, ispb=payload.ispb, conta=payload.conta,
                                   agencia=payload.agencia, fixed_amount=payload.fixed_amount,
                                   retry_policy=payload.retry_policy, actor=request.user)
    return 201, _rec(rec)


@contract_router.post("/{contract_id}/pix-automatico", response={201: RecurrenceOut, 401: ErrorOut, 403: ErrorOut,
                                                                 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
                      summary="Iniciar Pix Automático (POST /rec)")
def recurrence_start(request: HttpRequest, contract_id: int, payload: RecurrenceIn):
    rec = recurrence.recurrence_start(contract_id=contract_id, fixed_amount=payload.fixed_amount,
                                      retry_policy=payload.retry_policy, actor=request.user)
    return 201, _rec(rec)


@contract_router.get("/{contract_id}/pix-automatico", response={200: RecurrenceOut, 401: ErrorOut, 404: ErrorOut},
                     summary="Pix Automático do contrato")
def recurrence_get(request: HttpRequest, contract_id: int):
    rec = selectors.contract_recurrence(contract_id)
    if rec is None:
        raise NotFound("Pix Automático", "pix_recurrence_not_found")
    return _rec(rec)


@contract_router.delete("/{contract_id}/pix-automatico", response={200: CountOut, 401: ErrorOut, 403: ErrorOut},
                        summary="Cancelar Pix Automático (PATCH /rec status CANCELADA)")
def recurrence_cancel(request: HttpRequest, contract_id: int):
    return {"count": recurrence.recurrence_cancel(contract_id=contract_id, actor=request.user)}

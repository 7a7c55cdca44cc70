"""Pix Automático: the authorisation of a contract (``POST /rec``), its state through
webhookrec, one ``cobr`` per título inside the window the rules allow, retries
(``retentativa``) as the authorisation's policy permits, the payment from webhookcobr
applied once per ``endToEndId``, and cancellation with the contract.

The window: a cobr is sent from 10 to 2 days before its due date (Pix Automático rules:
the payer's PSP must be told at least 2 days ahead); a título due sooner is scheduled
for today + 2 days, with ``ajusteDiaUtil`` so the PSP moves a non-business day."""

from __future__ import annotations

import logging
import re
from contextlib import nullcontext
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from agrega.billing import services as billing
from agrega.billing.models import Invoice, InvoiceStatus, PaymentMethod
from agrega.contracts.models import Contract
from agrega.core.errors import ApplicationError, InvalidTransition, NotFound
from agrega.core.money import parse_amount

from .client import PixError
from .models import PixAccount, PixRecurrence, PixRecurringCharge, RecurrenceStatus, SolicRecStatus
from .services import PROVIDER, _devedor, _money, _paid_on, active_account, client_for, shared_client

log = logging.getLogger("agrega.pix")
WINDOW_MIN_DAYS, WINDOW_MAX_DAYS = 2, 10
LIVE = (RecurrenceStatus.CREATING, RecurrenceStatus.CREATED, RecurrenceStatus.APPROVED)


def cobr_txid_for(invoice_id: int) -> str:
    return f"agregar{int(invoice_id):020d}"


def rec_body(contract: Contract, *, fixed_amount: Decimal | None, retry_policy: str) -> dict:
    body = {
        "vinculo": {"contrato": str(contract.pk), "devedor": _devedor(contract.customer),
                    "objeto": f"Contrato {contract.pk} — mensalidade"[:35]},
        "calendario": {"dataInicial": (timezone.localdate() + timedelta(days=1)).isoformat(),
                       "periodicidade": "MENSAL"},
        "politicaRetentativa": retry_policy,
    }
    if fixed_amount is not None:
        body["valor"] = {"valorRec": _money(fixed_amount)}
    return body


def recurrence_start(*, contract_id: int, fixed_amount=None, retry_policy: str = "PERMITE_3R_7D",
                     actor=None) -> PixRecurrence:
    """Start an authorisation for the contract (``POST /rec``); the payer approves it in
    their bank, and webhookrec tells us."""
    contract = Contract.objects.select_related("customer").filter(pk=contract_id).first()
    if contract is None:
        raise NotFound("Contrato", "contract_not_found")
    if retry_policy not in ("NAO_PERMITE", "PERMITE_3R_7D"):
        raise ApplicationError("retry_policy_invalid", "Política de retentativa: NAO_PERMITE ou PERMITE_3R_7D.")
    if PixRecurrence.objects.filter(contract_id=contract_id, status__in=LIVE).exists():
        raise InvalidTransition("recurrence_exists", "Este contrato já tem um Pix Automático ativo ou pendente.")
    account = active_account()
    if account is None:
        raise ApplicationError("pix_account_missing", "Cadastre uma conta PIX antes.")
    amount = parse_amount(fixed_amount) if fixed_amount not in (None, "") else None
    rec = PixRecurrence.objects.create(contract=contract, account=account, fixed_amount=amount,
                                       retry_policy=retry_policy)
    try:
        with client_for(account) as client:
            answer = client.rec_post(rec_body(contract, fixed_amount=amount, retry_policy=retry_policy))
    except PixError as exc:
        PixRecurrence.objects.filter(pk=rec.pk).update(status=RecurrenceStatus.REJECTED, last_error=str(exc)[:500])
        raise ApplicationError("pix_rec_failed", f"O PSP recusou a recorrência: {exc}") from exc
    PixRecurrence.objects.filter(pk=rec.pk).update(id_rec=str(answer.get("idRec", ""))[:35])
    # the PSP may have notified a later state already (webhookrec): never moved back
    _advance(PixRecurrence.objects.filter(pk=rec.pk), "status",
             _status(answer.get("status"), RecurrenceStatus.CREATED), _REC_ORDER)
    rec.refresh_from_db()
    return rec


SOLICREC_DAYS = 7  # how long the payer's bank shows the request


def solicrec_send(*, contract_id: int, ispb: str, conta: str, agencia: str = "", fixed_amount=None,
                  retry_policy: str = "PERMITE_3R_7D", actor=None) -> PixRecurrence:
    """Send the authorisation request to the payer's bank (``POST /solicrec``): the
    customer approves or rejects it in their bank's app; webhookrec tells us, and the
    request's state (ENVIADA → ACEITA / REJEITADA / EXPIRADA) is kept on the recurrence.
    Uses the contract's recurrence still CRIADA, or starts one (``POST /rec``) first."""
    from datetime import datetime, timezone as dt_timezone

    from agrega.core.errors import FieldErrors

    errors = FieldErrors()
    ispb, conta, agencia = (ispb or "").strip().upper(), (conta or "").strip(), (agencia or "").strip()
    if not re.fullmatch(r"[0-9A-Z]{8}", ispb):
        errors.add("ispb", "ispb_invalid", "ISPB do banco do pagador: 8 caracteres (ex.: 00000000).")
    if not re.fullmatch(r"[0-9A-Za-z]{1,20}", conta):
        errors.add("conta", "conta_invalid", "Conta do pagador: até 20 letras ou dígitos.")
    if agencia and not re.fullmatch(r"[0-9]{1,4}", agencia):
        errors.add("agencia", "agencia_invalid", "Agência do pagador: até 4 dígitos.")
    errors.raise_if_any()
    contract = Contract.objects.select_related("customer").filter(pk=contract_id).first()
    if contract is None:
        raise NotFound("Contrato", "contract_not_found")
    rec = PixRecurrence.objects.filter(contract_id=contract_id, status__in=LIVE).select_related("account").first()
    if rec is not None and (rec.status != RecurrenceStatus.CREATED or rec.solicrec_status in (
            SolicRecStatus.SENT, SolicRecStatus.RECEIVED, SolicRecStatus.CREATED)):
        raise InvalidTransition("solicrec_exists",
                                "Este contrato já tem um Pix Automático aprovado ou uma solicitação em andamento.")
    if rec is None:
        rec = recurrence_start(contract_id=contract_id, fixed_amount=fixed_amount, retry_policy=retry_policy,
                               actor=actor)
    doc = (contract.customer.document or "").upper()
    destinatario = {"conta": conta, "ispbParticipante": ispb, **({"agencia": agencia} if agencia else {}),
                    ("cpf" if len(doc) == 11 else "cnpj"): doc}
    expires = timezone.now() + timedelta(days=SOLICREC_DAYS)
    body = {"idRec": rec.id_rec, "destinatario": destinatario,
            "calendario": {"dataExpiracaoSolicitacao":
                           expires.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}}
    try:
        answer = shared_client(rec.account).solicrec_post(body)
    except PixError as exc:
        PixRecurrence.objects.filter(pk=rec.pk).update(last_error=str(exc)[:500])
        raise ApplicationError("pix_solicrec_failed", f"O PSP recusou a solicitação: {exc}") from exc
    PixRecurrence.objects.filter(pk=rec.pk).update(
        solicrec_id=str(answer.get("idSolicRec", ""))[:35], solicrec_destinatario=destinatario,
        solicrec_status=_solic_status(answer.get("status"), SolicRecStatus.SENT), solicrec_expires_at=expires,
        last_error="")
    rec.refresh_from_db()
    return rec


def _solic_status(value, default):
    return value if value in SolicRecStatus.values else default


def solicrec_refresh(rec: PixRecurrence, client=None) -> None:
    """The request's state from the PSP (``GET /solicrec/{id}``)."""
    if not rec.solicrec_id:
        return
    try:
        answer = (client or shared_client(rec.account)).solicrec_get(rec.solicrec_id)
    except PixError as exc:
        log.warning("solicrec %s not read: %s", rec.solicrec_id, exc)
        return
    _advance(PixRecurrence.objects.filter(pk=rec.pk), "solicrec_status", answer.get("status"), _SOLICREC_ORDER)


def _status(value, default):
    return value if value in RecurrenceStatus.values else default


# The order in which each state moves. A read of the PSP older than what we hold (two
# notifications answered out of order: the CRIADA one read before the payer approved and
# written after the APROVADA one) must never move a state back, so every write of a state
# read from the PSP is conditional on the row still holding an earlier one.
_REC_ORDER = {RecurrenceStatus.CREATING: 0, RecurrenceStatus.CREATED: 1, RecurrenceStatus.APPROVED: 2,
              RecurrenceStatus.REJECTED: 3, RecurrenceStatus.EXPIRED: 3, RecurrenceStatus.CANCELLED: 3}
_SOLICREC_ORDER = {SolicRecStatus.CREATED: 0, SolicRecStatus.SENT: 1, SolicRecStatus.RECEIVED: 2,
                   SolicRecStatus.REJECTED: 3, SolicRecStatus.ACCEPTED: 3, SolicRecStatus.EXPIRED: 3,
                   SolicRecStatus.CANCELLED: 3}
_COBR_ORDER = {"CRIADA": 0, "ATIVA": 1, "CONCLUIDA": 2, "EXPIRADA": 2, "REJEITADA": 2, "CANCELADA": 2}


def _advance(queryset, field: str, value, order: dict) -> int:
    """Set ``field`` to ``value`` only on rows that hold an earlier state (or none we know)."""
    if value not in order:
        return 0
    later_or_same = [state for state, rank in order.items() if rank >= order[value]]
    return queryset.exclude(**{f"{field}__in": later_or_same}).update(**{field: value})


def recurrence_cancel(*, contract_id: int, actor=None) -> int:
    """Cancel the contract's live recurrences at the PSP (``PATCH /rec`` status CANCELADA)."""
    count = 0
    for rec in PixRecurrence.objects.filter(contract_id=contract_id, status__in=LIVE).select_related("account"):
        if rec.id_rec:
            try:
                with client_for(rec.account) as client:
                    client.rec_patch(rec.id_rec, {"status": "CANCELADA"})
            except PixError as exc:
                if exc.status != 404:
                    raise ApplicationError("pix_rec_cancel_failed", f"O PSP recusou o cancelamento: {exc}") from exc
        PixRecurrence.objects.filter(pk=rec.pk).update(status=RecurrenceStatus.CANCELLED)
        count += 1
    return count


def _account(secret: str) -> PixAccount:
    account = PixAccount.objects.filter(webhook_secret=secret, active=True).first() if secret else None
    if account is None:
        raise NotFound("Webhook", "pix_webhook_unknown")
    return account


def webhook_rec_receive(*, secret: str, body: dict) -> dict:
    """webhookrec: each recurrence named is read back (``GET /rec/{idRec}``) and its state kept."""
    account = _account(secret)
    updated = 0
    with nullcontext(shared_client(account)) as client:  # the process's client: kept open
        for item in (body.get("recs") or [])[:1000]:
            id_rec = str((item or {}).get("idRec") or "")[:35]
            rec = PixRecurrence.objects.filter(id_rec=id_rec, account=account).first() if id_rec else None
            if rec is None:
                continue
            try:
                answer = client.rec_get(id_rec)
            except PixError as exc:
                log.warning("rec %s not confirmed: %s", id_rec, exc)
                continue
            _advance(PixRecurrence.objects.filter(pk=rec.pk), "status", answer.get("status"), _REC_ORDER)
            solicrec_refresh(rec, client)  # a request sent to the payer's bank follows its recurrence
            updated += 1
    return {"received": len(body.get("recs") or []), "updated": updated}


def webhook_cobr_receive(*, secret: str, body: dict) -> dict:
    """webhookcobr: each cobr is read back (``GET /cobr/{txid}``); a settled attempt
    (``PAGA`` with its endToEndId) is the baixa, once per endToEndId; a failed one
    is retried (``retentativa``) when the authorisation's policy allows."""
    account = _account(secret)
    applied = 0
    with nullcontext(shared_client(account)) as client:  # the process's client: kept open
        for item in (body.get("cobsr") or [])[:1000]:
            txid = str((item or {}).get("txid") or "")[:35]
            charge = PixRecurringCharge.objects.filter(txid=txid).select_related("recurrence").first()
            if charge is None:
                continue
            try:
                cobr = client.cobr_get(txid)
            except PixError as exc:
                log.warning("cobr %s not confirmed: %s", txid, exc)
                continue
            applied += _settle_cobr(charge, cobr, client)
    return {"received": len(body.get("cobsr") or []), "applied": applied}


def _settle_cobr(charge: PixRecurringCharge, cobr: dict, client) -> int:
    applied = 0
    status = str(cobr.get("status") or charge.status)[:30]
    for attempt in cobr.get("tentativas") or []:
        e2eid = attempt.get("endToEndId") or ""
        if attempt.get("status") == "PAGA" and e2eid:  # yaml: tentativas[].status
            value = (cobr.get("valor") or {}).get("original")
            # the settlement date, never later than today (a PSP may date it ahead)
            paid_on = min(_paid_on(attempt.get("dataLiquidacao", "") + "T12:00:00Z"), timezone.localdate())
            try:
                billing.payment_register(invoice_id=charge.invoice_id, amount=value, paid_on=paid_on,
                                         method=PaymentMethod.PIX, provider=PROVIDER, external_id=e2eid,
                                         note=f"Pix Automático {charge.txid}", actor="pix")
                applied = 1
            except ApplicationError as exc:  # kept for an operator; the PSP is not made to retry
                PixRecurringCharge.objects.filter(pk=charge.pk).update(last_error=exc.message[:500])
    attempts = cobr.get("tentativas") or []
    if status == "ATIVA" and attempts and all(a.get("status") == "REJEITADA" for a in attempts):
        # the payer's PSP refused the last attempt and the cobr is still open: retry when allowed
        if charge.recurrence.retry_policy == "PERMITE_3R_7D" and charge.retries < 3:
            day = (timezone.localdate() + timedelta(days=1)).isoformat()
            try:
                client.retentativa_post(charge.txid, day)
                PixRecurringCharge.objects.filter(pk=charge.pk).update(retries=charge.retries + 1)
            except PixError as exc:
                PixRecurringCharge.objects.filter(pk=charge.pk).update(last_error=str(exc)[:500])
    _advance(PixRecurringCharge.objects.filter(pk=charge.pk), "status", status, _COBR_ORDER)
    return applied


def cobr_body(invoice: Invoice, rec: PixRecurrence, due) -> dict:
    account = rec.account
    return {
        "idRec": rec.id_rec,
        "infoAdicional": f"Título {invoice.pk} — competência {invoice.period:%m/%Y}",
        "calendario": {"dataDeVencimento": due.isoformat()},
        "valor": {"original": _money(invoice.amount)},
        "ajusteDiaUtil": True,
        "recebedor": {"agencia": account.recebedor_agencia or "0001", "conta": account.recebedor_conta or "0",
                      "tipoConta": account.recebedor_tipo_conta or "CORRENTE"},
    }


def schedule_cobr(*, invoice_id: int, today=None) -> PixRecurringCharge | None:
    """The título's cobr when its contract has an approved authorisation and its due
    date is inside the window (≤ 10 days ahead); sooner than 2 days → today + 2."""
    today = today or timezone.localdate()
    invoice = Invoice.objects.filter(pk=invoice_id, status=InvoiceStatus.OPEN).first()
    if invoice is None:
        return None
    rec = PixRecurrence.objects.filter(contract_id=invoice.contract_id, status=RecurrenceStatus.APPROVED) \
        .select_related("account").first()
    if rec is None or invoice.due_date > today + timedelta(days=WINDOW_MAX_DAYS):
        return None
    due = max(invoice.due_date, today + timedelta(days=WINDOW_MIN_DAYS))
    charge, created = PixRecurringCharge.objects.get_or_create(
        invoice=invoice, defaults={"recurrence": rec, "txid": cobr_txid_for(invoice.pk)})
    if charge.due_sent:
        return charge
    try:
        with client_for(rec.account) as client:
            answer = client.cobr_put(charge.txid, cobr_body(invoice, rec, due))
    except PixError as exc:
        PixRecurringCharge.objects.filter(pk=charge.pk).update(last_error=str(exc)[:500])
        raise
    PixRecurringCharge.objects.filter(pk=charge.pk).update(due_sent=due, status=str(answer.get("status", "CRIADA"))[:30])
    charge.refresh_from_db()
    return charge


def schedule_due_job() -> None:
    """Periodic: títulos of approved authorisations entering the window get their cobr."""
    today = timezone.localdate()
    ids = Invoice.objects.filter(
        status=InvoiceStatus.OPEN, due_date__lte=today + timedelta(days=WINDOW_MAX_DAYS),
        contract__pix_recurrences__status=RecurrenceStatus.APPROVED, pix_cobr__isnull=True,
    ).values_list("pk", flat=True)
    for invoice_id in list(ids):
        try:
            schedule_cobr(invoice_id=invoice_id, today=today)
        except PixError as exc:
            log.warning("cobr of título %s failed: %s", invoice_id, exc)



OPEN_COBR = ("CRIADA", "ATIVA")


def cobrs_to_cancel(contract_ids) -> list[int]:
    """Títulos of these contracts paid (or cancelled) while their cobr is still open:
    the cobr is cancelled so the payer's bank does not debit them again
    (docs/decisions/0011-cobv-beside-cobr.md)."""
    return list(PixRecurringCharge.objects.filter(
        invoice__contract_id__in=list(contract_ids), status__in=OPEN_COBR,
    ).exclude(invoice__status=InvoiceStatus.OPEN).values_list("invoice_id", flat=True))


def cobr_cancel_for_settled(*, invoice_id: int) -> str:
    """``PATCH /cobr/{txid}`` status CANCELADA for a título no longer open (paid through
    its cobv or by other means, or cancelled). The PSP refuses from the day of the first
    settlement attempt on: then the cobr may still be paid, and that second payment is
    an over-payment (credit for the next títulos, or a devolução by an operator)."""
    charge = PixRecurringCharge.objects.filter(invoice_id=invoice_id, status__in=OPEN_COBR) \
        .select_related("recurrence__account", "invoice").first()
    if charge is None or charge.invoice.status == InvoiceStatus.OPEN:
        return "none"
    try:
        answer = shared_client(charge.recurrence.account).cobr_patch(charge.txid, {"status": "CANCELADA"})
    except PixError as exc:
        if not exc.permanent:
            raise
        PixRecurringCharge.objects.filter(pk=charge.pk).update(
            last_error=(f"Título já pago; a cobrança recorrente não pôde ser cancelada ({exc}). "
                        "Se for liquidada, o valor vira crédito do contrato.")[:500])
        return "refused"
    PixRecurringCharge.objects.filter(pk=charge.pk).update(status=str(answer.get("status") or "CANCELADA")[:30],
                                                           last_error="")
    return "cancelled"

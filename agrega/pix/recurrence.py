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
# INCERTA is live: while Agrega does not know whether its POST /rec reached the PSP, no
# second one is sent for the contract
LIVE = (RecurrenceStatus.CREATING, RecurrenceStatus.UNKNOWN, RecurrenceStatus.CREATED, RecurrenceStatus.APPROVED)


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
    their bank, and webhookrec tells us. ``POST /rec`` is sent once: when its answer is
    lost (or a 5xx came back) the row is ``INCERTA`` — returned as it is, never
    REJEITADA — and the recurrence is looked for on the PSP at once and, failing that,
    by the reconciliation (automatico.settle_unknown)."""
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
        if exc.unknown:
            return _outcome_unknown(rec, exc)
        # refused before anything was made (a 4xx, a 429 to the end, no connection): not
        # REJEITADA, which is the payer's answer
        PixRecurrence.objects.filter(pk=rec.pk).update(status=RecurrenceStatus.NOT_CREATED,
                                                       last_error=str(exc)[:500])
        raise ApplicationError("pix_rec_failed", f"O PSP recusou a recorrência: {exc}") from exc
    PixRecurrence.objects.filter(pk=rec.pk).update(id_rec=str(answer.get("idRec", ""))[:35])
    # the PSP may have notified a later state already (webhookrec): never moved back
    _advance(PixRecurrence.objects.filter(pk=rec.pk), "status",
             _status(answer.get("status"), RecurrenceStatus.CREATED), _REC_ORDER)
    rec.refresh_from_db()
    return rec


def _outcome_unknown(rec: PixRecurrence, exc: PixError) -> PixRecurrence:
    """``POST /rec`` without a definite answer: INCERTA, then one look on the PSP now."""
    from . import automatico

    log.warning("POST /rec of contract %s: outcome unknown: %s", rec.contract_id, exc)
    PixRecurrence.objects.filter(pk=rec.pk).update(
        status=RecurrenceStatus.UNKNOWN, last_error=f"{exc} (código pix_outcome_unknown)"[:500])
    try:
        automatico.settle_unknown(rec.account, shared_client(rec.account))
    except PixError as again:  # the PSP still failing: the reconciliation looks again
        log.info("rec of contract %s not looked up yet: %s", rec.contract_id, again)
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
    if rec is not None and (rec.status == RecurrenceStatus.UNKNOWN or rec.solicrec_status == SolicRecStatus.UNKNOWN):
        raise InvalidTransition("pix_outcome_unknown", UNKNOWN_MESSAGE)
    if rec is not None and (rec.status != RecurrenceStatus.CREATED or rec.solicrec_status in (
            SolicRecStatus.SENT, SolicRecStatus.RECEIVED, SolicRecStatus.CREATED)):
        raise InvalidTransition("solicrec_exists",
                                "Este contrato já tem um Pix Automático aprovado ou uma solicitação em andamento.")
    if rec is None:
        rec = recurrence_start(contract_id=contract_id, fixed_amount=fixed_amount, retry_policy=retry_policy,
                               actor=actor)
        if not rec.id_rec:  # POST /rec without answer: the request waits for the recurrence to be found
            raise InvalidTransition("pix_outcome_unknown", UNKNOWN_MESSAGE)
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
        if exc.unknown:  # not sent again: the reconciliation reads the recurrence's requests (GET /rec/{idRec})
            PixRecurrence.objects.filter(pk=rec.pk).update(
                solicrec_status=SolicRecStatus.UNKNOWN, solicrec_destinatario=destinatario,
                solicrec_expires_at=expires, last_error=f"{exc} (código pix_outcome_unknown)"[:500])
            rec.refresh_from_db()
            return rec
        PixRecurrence.objects.filter(pk=rec.pk).update(last_error=str(exc)[:500])
        raise ApplicationError("pix_solicrec_failed", f"O PSP recusou a solicitação: {exc}") from exc
    PixRecurrence.objects.filter(pk=rec.pk).update(
        solicrec_id=str(answer.get("idSolicRec", ""))[:35], solicrec_destinatario=destinatario,
        solicrec_status=_solic_status(answer.get("status"), SolicRecStatus.SENT), solicrec_expires_at=expires,
        last_error="")
    rec.refresh_from_db()
    return rec


UNKNOWN_MESSAGE = ("O PSP não respondeu ao último pedido deste Pix Automático; a reconciliação verifica no PSP "
                   "em alguns minutos. Aguarde antes de pedir de novo.")


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
_REC_ORDER = {RecurrenceStatus.CREATING: 0, RecurrenceStatus.UNKNOWN: 0, RecurrenceStatus.CREATED: 1,
              RecurrenceStatus.APPROVED: 2, RecurrenceStatus.REJECTED: 3, RecurrenceStatus.EXPIRED: 3,
              RecurrenceStatus.CANCELLED: 3, RecurrenceStatus.NOT_CREATED: 3}
_SOLICREC_ORDER = {SolicRecStatus.UNKNOWN: 0, SolicRecStatus.CREATED: 0, SolicRecStatus.SENT: 1,
                   SolicRecStatus.RECEIVED: 2,
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
    # a POST /rec without answer is not cancelled blind: once the reconciliation finds it
    # on the PSP it cancels it there when the contract is cancelled (automatico.apply_rec)
    for rec in PixRecurrence.objects.filter(contract_id=contract_id, status__in=LIVE).exclude(
            status=RecurrenceStatus.UNKNOWN).select_related("account"):
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
    """webhookrec: each recurrence named is recorded in the inbox (committed before the
    200); the worker reads it back (``GET /rec/{idRec}``) and keeps its state
    (automatico.drain)."""
    return _webhook_record("rec", secret, body)


def webhook_cobr_receive(*, secret: str, body: dict) -> dict:
    """webhookcobr: each cobr named is recorded in the inbox (committed before the 200);
    the worker reads it back (``GET /cobr/{txid}``): a settled attempt (``PAGA`` with its
    endToEndId) is the baixa, once per endToEndId; a failed one is retried
    (``retentativa``) when the authorisation's policy allows (automatico.drain)."""
    return _webhook_record("cobr", secret, body)


def _webhook_record(kind: str, secret: str, body: dict) -> dict:
    from . import automatico

    account = _account(secret)
    refs = automatico.refs_of(kind, body)
    if refs is None:
        key = "recs" if kind == "rec" else "cobsr"
        raise ApplicationError("pix_webhook_invalid", f"Corpo inválido: esperado {{\"{key}\": [...]}}.")
    recorded = automatico.record(account=account, kind=kind, refs=refs)
    return {"received": len(body.get("recs" if kind == "rec" else "cobsr") or []), "recorded": recorded}


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
    # the retries the PSP holds (NTAG attempts): a retentativa whose answer was lost counts once it shows
    retries = max(charge.retries, sum(1 for a in attempts if a.get("tipo") == "NTAG"))
    if retries != charge.retries:  # and what a retentativa without answer left is settled
        PixRecurringCharge.objects.filter(pk=charge.pk).update(retries=retries, last_error="")
    if status == "ATIVA" and attempts and all(a.get("status") == "REJEITADA" for a in attempts):
        # the payer's PSP refused the last attempt and the cobr is still open: retry when allowed
        if charge.recurrence.retry_policy == "PERMITE_3R_7D" and retries < 3:
            day = (timezone.localdate() + timedelta(days=1)).isoformat()
            try:
                client.retentativa_post(charge.txid, day)
                PixRecurringCharge.objects.filter(pk=charge.pk).update(retries=retries + 1, last_error="")
            except PixError as exc:
                # not sent again when its outcome is unknown: the next read of the cobr shows
                # the attempt scheduled (then nothing more is asked) or not (then it is asked again)
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
    if not created and _found_on_psp(charge, rec):
        return charge
    try:
        with client_for(rec.account) as client:
            answer = client.cobr_put(charge.txid, cobr_body(invoice, rec, due))
    except PixError as exc:
        PixRecurringCharge.objects.filter(pk=charge.pk).update(last_error=str(exc)[:500])
        # a PUT repeated after a lost answer is refused as a txid in use: the first one made it
        if exc.status == 400 and _found_on_psp(charge, rec):
            return charge
        raise
    PixRecurringCharge.objects.filter(pk=charge.pk).update(due_sent=due, status=str(answer.get("status", "CRIADA"))[:30])
    charge.refresh_from_db()
    return charge


def _found_on_psp(charge: PixRecurringCharge, rec: PixRecurrence) -> bool:
    """An earlier ``PUT /cobr/{txid}`` of this charge got no answer: the PSP may hold it
    (a second PUT of a txid in use is refused). Read it first; when found, keep it."""
    try:
        with client_for(rec.account) as client:
            remote = client.cobr_get(charge.txid)
    except PixError as exc:
        if exc.status == 404:
            return False
        raise
    due = (remote.get("calendario") or {}).get("dataDeVencimento") or None
    PixRecurringCharge.objects.filter(pk=charge.pk).update(due_sent=due, last_error="",
                                                           status=str(remote.get("status") or "CRIADA")[:30])
    charge.refresh_from_db()
    return True


def schedule_due_job() -> None:
    """Periodic: títulos of approved authorisations entering the window get their cobr —
    and those whose ``PUT /cobr`` failed get it again."""
    from django.db.models import Q

    today = timezone.localdate()
    ids = Invoice.objects.filter(
        Q(pix_cobr__isnull=True) | Q(pix_cobr__due_sent__isnull=True),
        status=InvoiceStatus.OPEN, due_date__lte=today + timedelta(days=WINDOW_MAX_DAYS),
        contract__pix_recurrences__status=RecurrenceStatus.APPROVED,
    ).distinct().values_list("pk", flat=True)
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

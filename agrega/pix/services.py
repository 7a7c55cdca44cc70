"""PIX rules: PSP accounts, the cobv of each título, receiving a Pix exactly once,
refunds and Pix Automático.

Why the order of things: a callback is only a hint — every Pix is confirmed with the PSP
(``GET /pix/{e2eid}``, or it came from the PSP's own list in the reconciliation) before
the baixa, and the baixa is ``billing.services.payment_register`` with provider ``pix``
and the ``endToEndId`` as external id, whose unique constraint applies it once whatever
the order and number of deliveries. PSP calls never run inside a database transaction
that holds locks (they are tasks, or outside any ``atomic``)."""

from __future__ import annotations

import logging
import threading
import secrets as pysecrets
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from urllib.parse import urlparse

from django.db import transaction
from django.utils import timezone

from agrega.billing.models import Invoice, InvoiceStatus, Payment, PaymentMethod
from agrega.billing import services as billing
from agrega.core.audit import diff, record_change
from agrega.core.errors import (ApplicationError, Conflict, FieldError, FieldErrors, InvalidTransition, NotFound,
                                 ValidationFailed)
from agrega.core.money import parse_amount
from agrega.core.text import clean_text_into

from . import certs, sql
from .client import ADAPTERS, PixClient, PixError
from .models import (
    LIVE_CHARGE,
    ChargeStatus,
    PixAccount,
    PixCharge,
    PixRecurrence,
    PixRefund,
    RecurrenceStatus,
    RefundStatus,
)

log = logging.getLogger("agrega.pix")
PROVIDER = "pix"
# the scopes (yaml: securitySchemes.OAuth2) of what Agrega calls: without the first, no
# cobranças nor baixas (an error); without the second, no Pix Automático — optional for
# an ISP (a warning)
REQUIRED_SCOPES = ("cobv.write", "cobv.read", "pix.read", "pix.write", "webhook.write")
AUTOMATICO_SCOPES = ("rec.write", "rec.read", "solicrec.write", "solicrec.read", "cobr.write", "cobr.read",
                     "webhookrec.write", "webhookcobr.write")
RECONCILE_OVERLAP = timedelta(minutes=10)
CERT_WARN_DAYS = 30
_FIELDS = ("name", "base_url", "token_url", "client_id", "chave", "adapter", "validade_apos_vencimento",
           "active", "timeout_seconds")


# ---------------------------------------------------------------- accounts

def _validate(account: PixAccount) -> None:
    errors = FieldErrors()
    account.name = clean_text_into(errors, "name", PixAccount, "name", account.name, label="Nome") or ""
    if not account.name:
        errors.add("name", "name_required", "Informe um nome para a conta.")
    for f in ("base_url", "token_url"):
        value = getattr(account, f) or ""
        url = urlparse(value)
        if (value or f == "base_url") and (url.scheme not in ("http", "https") or not url.netloc):
            errors.add(f, "url_invalid", "URL inválida: use https:// (ou http://, só para um sandbox) seguido do endereço.")
    account.client_id = clean_text_into(errors, "client_id", PixAccount, "client_id", account.client_id,
                                        label="Client id") or ""
    if not account.client_id:
        errors.add("client_id", "client_id_required", "Informe o client id do PSP.")
    account.chave = clean_text_into(errors, "chave", PixAccount, "chave", account.chave, label="Chave Pix") or ""
    if not account.chave:
        errors.add("chave", "chave_required", "Informe a chave Pix que recebe as cobranças.")
    if account.adapter not in ADAPTERS:
        errors.add("adapter", "adapter_unknown", "Adaptador desconhecido: " + ", ".join(ADAPTERS))
    if not 0 <= int(account.validade_apos_vencimento or 0) <= 3650:
        errors.add("validade_apos_vencimento", "validade_invalid", "Validade após o vencimento: 0 a 3650 dias.")
    if not 0.5 <= float(account.timeout_seconds or 0) <= 120:
        errors.add("timeout_seconds", "timeout_invalid", "Tempo limite deve estar entre 0,5 e 120 segundos.")
    errors.raise_if_any()


def _apply_secrets(account: PixAccount, *, client_secret: str | None, pkcs12_data: bytes | None,
                   cert_password: str, cert_pem: str, key_pem: str, creating: bool) -> None:
    current = account.secrets if account.secrets_encrypted else {}
    if client_secret:
        current["client_secret"] = client_secret.strip()
    elif creating:
        errors = FieldErrors()
        errors.add("client_secret", "client_secret_required", "Informe o client secret do PSP.")
        errors.raise_if_any()
    if pkcs12_data or cert_pem or key_pem:
        cert_text, key_text, subject, not_after = certs.load(pkcs12_data=pkcs12_data, password=cert_password,
                                                             cert_pem=cert_pem, key_pem=key_pem)
        current["cert_pem"], current["key_pem"] = cert_text, key_text
        account.cert_subject, account.cert_not_after = subject, not_after
    account.set_secrets(current)


@transaction.atomic
def account_create(*, name: str, base_url: str, client_id: str, client_secret: str, chave: str,
                   token_url: str = "", adapter: str = "padrao", validade_apos_vencimento: int = 30,
                   timeout_seconds: float = 10.0, pkcs12_data: bytes | None = None, cert_password: str = "",
                   cert_pem: str = "", key_pem: str = "", psp_ca_pem: str = "", actor=None) -> PixAccount:
    """A new PSP account; its secrets are encrypted and never returned."""
    account = PixAccount(name=name, base_url=(base_url or "").strip(), token_url=(token_url or "").strip(),
                         client_id=client_id, chave=chave, adapter=adapter or "padrao",
                         psp_ca_pem=certs.load_ca(psp_ca_pem)[0],
                         validade_apos_vencimento=validade_apos_vencimento, timeout_seconds=timeout_seconds,
                         webhook_secret=pysecrets.token_urlsafe(32))
    _validate(account)
    _apply_secrets(account, client_secret=client_secret, pkcs12_data=pkcs12_data, cert_password=cert_password,
                   cert_pem=cert_pem, key_pem=key_pem, creating=True)
    account.save()
    changes = {f: [None, str(getattr(account, f))] for f in _FIELDS}
    if account.psp_ca_pem:
        changes["CA do PSP"] = [None, certs.describe_ca(account.psp_ca_pem)]
    record_change(instance=account, action="create", actor=actor, changes=changes)
    return account


@transaction.atomic
def account_update(*, account_id: int, actor=None, client_secret: str | None = None,
                   pkcs12_data: bytes | None = None, cert_password: str = "", cert_pem: str = "",
                   key_pem: str = "", psp_ca_pem: str | None = None, **fields) -> PixAccount:
    """Change an account; a secret left empty is kept. ``psp_ca_pem``: None keeps the
    CA do PSP, "" removes it."""
    account = PixAccount.objects.select_for_update().filter(pk=account_id).first()
    if account is None:
        raise NotFound("Conta PIX", "pix_account_not_found")
    before = {f: getattr(account, f) for f in _FIELDS}
    ca_before = account.psp_ca_pem
    for key, value in fields.items():
        if key in _FIELDS and value is not None:
            setattr(account, key, value)
    if psp_ca_pem is not None:
        account.psp_ca_pem = certs.load_ca(psp_ca_pem)[0]
    _validate(account)
    _apply_secrets(account, client_secret=client_secret, pkcs12_data=pkcs12_data, cert_password=cert_password,
                   cert_pem=cert_pem, key_pem=key_pem, creating=False)
    account.save()
    changes = diff(before, {f: getattr(account, f) for f in _FIELDS})
    if client_secret or pkcs12_data or cert_pem:
        changes["credenciais"] = ["(oculto)", "(alterado)"]
    if account.psp_ca_pem != ca_before:
        changes["CA do PSP"] = [certs.describe_ca(ca_before) or None, certs.describe_ca(account.psp_ca_pem) or None]
    record_change(instance=account, action="update", actor=actor, changes=changes)
    return account


def _account(account_id: int) -> PixAccount:
    account = PixAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise NotFound("Conta PIX", "pix_account_not_found")
    return account


def client_for(account: PixAccount, **kwargs) -> PixClient:
    return PixClient.for_account(account, **kwargs)


_SHARED: dict[int, tuple[tuple, PixClient]] = {}
_SHARED_LOCK = threading.Lock()


def shared_client(account: PixAccount) -> PixClient:
    """The one long-lived client of ``account`` in this process, for the hot webhook path:
    its connections (TCP, TLS with the account's certificate) and its OAuth token are
    reused from one callback to the next instead of being set up for each (the cost that
    made the webhook path slow). Rebuilt when the account's settings or secrets change.
    Never closed by its callers (no ``with``). A TLS handshake failure is remembered by
    the client (no new handshake for a while): saving the account builds a new one."""
    fingerprint = (account.base_url, account.token_url, account.client_id, account.adapter,
                   account.timeout_seconds, account.secrets_encrypted, account.psp_ca_pem)
    with _SHARED_LOCK:
        known = _SHARED.get(account.pk)
        if known is not None and known[0] == fingerprint:
            return known[1]
        client = client_for(account)
        _SHARED[account.pk] = (fingerprint, client)
    if known is not None:
        known[1].close()
    return client


def shared_clients_reset() -> None:
    """Close and forget every shared client (tests, between sandboxes)."""
    with _SHARED_LOCK:
        clients = [c for _, c in _SHARED.values()]
        _SHARED.clear()
    for client in clients:
        client.close()


def account_check(*, account_id: int, actor=None) -> PixAccount:
    """"Testar conexão": gets a token (over mTLS when the account has a certificate) and
    checks the scopes the PSP granted. Without one of ``REQUIRED_SCOPES`` the check fails
    (no cobranças, no baixas); without Pix Automático's it passes with a warning — an ISP
    may live without it. The outcome is kept on the account (shown on its page), with a
    stable code: ``ok``, ``pix_scopes_missing`` or the PSP error's (``pix_auth_refused``,
    ``pix_tls_client_refused``, ``pix_tls_server_untrusted``, ``pix_unreachable``…)."""
    account = _account(account_id)
    ok, code, message, warning, granted = False, "", "", "", ""
    try:
        with client_for(account) as client:
            token = client.token(fresh=True)
        granted = " ".join(token.scopes)
        missing = [s for s in REQUIRED_SCOPES if s not in token.scopes]
        if missing:
            code = "pix_scopes_missing"
            message = ("Token obtido, mas faltam escopos para cobranças e baixas: " + ", ".join(missing)
                       + ". Peça ao PSP que os libere para este client id.")
        else:
            ok, code, message = True, "ok", "Conexão OK: token obtido com os escopos necessários."
        lacking = [s for s in AUTOMATICO_SCOPES if s not in token.scopes]
        if lacking:
            warning = ("Pix Automático indisponível: faltam os escopos " + ", ".join(lacking)
                       + ". Opcional — as cobranças com vencimento funcionam sem eles.")
    except PixError as exc:
        code, message = exc.code, str(exc)
    PixAccount.objects.filter(pk=account.pk).update(
        last_check_at=timezone.now(), last_check_ok=ok, last_check_code=code[:40], last_check_message=message[:500],
        last_check_warning=warning[:500], scopes_granted=granted[:1000])
    account.refresh_from_db()
    return account


def account_register_webhook(*, account_id: int, public_url: str, actor=None) -> PixAccount:
    """``PUT /webhook/{chave}``, then webhookrec and webhookcobr (Pix Automático), with
    the URL the PSP calls: ``<public_url>/pix/webhook/<secret>`` (the PSP appends
    ``/pix``, ``/rec``, ``/cobr``). The cobv webhook is what matters: its failure is an
    error; a refusal of the other two is kept on the account (``webhook_automatico_error``,
    shown on its page) — the recurrences would otherwise never hear from the PSP."""
    account = _account(account_id)
    url = urlparse(public_url or "")
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ApplicationError("url_invalid", "Informe o endereço público do Agrega (https://…).")
    webhook_url = f"{public_url.rstrip('/')}/pix/webhook/{account.webhook_secret}"
    automatico: list[str] = []
    try:
        with client_for(account) as client:
            client.token(fresh=True)  # scopes the PSP granted since the cached token count
            client.webhook_put(account.chave, webhook_url)
            for name, put in (("webhookrec", client.webhookrec_put), ("webhookcobr", client.webhookcobr_put)):
                try:
                    put(webhook_url)
                except PixError as exc:
                    log.warning("%s of account %s not registered: %s", name, account.pk, exc)
                    automatico.append(f"{name}: {exc}")
    except PixError as exc:
        raise ApplicationError("pix_webhook_failed", f"O PSP recusou o webhook: {exc}") from exc
    automatico_error = ""
    if automatico:
        automatico_error = ("Webhooks do Pix Automático não registrados — as autorizações e cobranças "
                            "recorrentes não serão notificadas (" + "; ".join(automatico) + ")")[:500]
    PixAccount.objects.filter(pk=account.pk).update(webhook_url=webhook_url, webhook_registered_at=timezone.now(),
                                                    webhook_automatico_error=automatico_error)
    account.refresh_from_db()
    record_change(instance=account, action="webhook", actor=actor,
                  changes={"webhook": [None, "registrado"],
                           **({"webhook Pix Automático": [None, "recusado"]} if automatico else {})})
    return account


def active_account() -> PixAccount | None:
    """The account new cobranças go to (the first active one)."""
    return PixAccount.objects.filter(active=True).order_by("id").first()


def cert_expiring(now=None) -> list[PixAccount]:
    """Accounts whose certificate expires within 30 days (the dashboard warns)."""
    now = now or timezone.now()
    return list(PixAccount.objects.filter(active=True, cert_not_after__isnull=False,
                                          cert_not_after__lt=now + timedelta(days=CERT_WARN_DAYS)))


# ---------------------------------------------------------------- cobv per título

def txid_for(invoice_id: int, sequence: int = 0) -> str:
    """The txid of the título's cobv number ``sequence``: stable (a retry is the same
    PUT), 26–35 alphanumerics (yaml: ``[a-zA-Z0-9]{26,35}``). The first keeps the short
    form (26); a later one — the rest after a partial Pix or a devolução — adds ``n`` and
    the number (32), so no two títulos or sequences share one."""
    if not sequence:
        return f"agrega{int(invoice_id):020d}"
    return f"agrega{int(invoice_id):020d}n{int(sequence):05d}"


def due_amount(invoice: Invoice) -> Decimal:
    """What a título's cobv charges: its open balance (the whole amount until something
    is paid; after a partial Pix, a partial baixa or a devolução, what is left)."""
    return invoice.balance


def _money(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def _devedor(customer) -> dict:
    doc = (customer.document or "").upper()
    key = "cpf" if len(doc) == 11 else "cnpj"
    return {key: doc, "nome": customer.name[:200]}


def policy_of(invoice: Invoice, default=None):
    """The régua of the título's contract (its own, else the default one — ``default``
    when the caller already read it): what its cobv carries as multa/juros/desconto/
    validade (dunning/charges.py)."""
    from agrega.dunning.models import DunningPolicy

    contract = invoice.contract
    if contract.dunning_policy_id:
        return contract.dunning_policy
    if default is not None:
        return default
    return DunningPolicy.objects.filter(is_default=True).first()


def cobv_terms(invoice: Invoice, account: PixAccount, policy) -> dict:
    """The régua's part of the cobv: ``{"validadeAposVencimento", "valor": {multa?, juros?,
    desconto?}}`` — what ``PixCharge.terms_sent`` records."""
    from agrega.dunning.charges import cobv_terms as terms

    return terms(policy, amount=due_amount(invoice), due=invoice.due_date,
                 default_validade=account.validade_apos_vencimento)


def cobv_body(invoice: Invoice, account: PixAccount, terms: dict | None = None) -> dict:
    """The ``CobVSolicitada`` of a título (yaml: components/schemas/CobVSolicitada), with
    the régua's multa, juros, desconto and validade after the due date."""
    terms = terms if terms is not None else cobv_terms(invoice, account, policy_of(invoice))
    return {
        "calendario": {"dataDeVencimento": invoice.due_date.isoformat(),
                       "validadeAposVencimento": terms["validadeAposVencimento"]},
        "devedor": _devedor(invoice.customer),
        "valor": {"original": _money(due_amount(invoice)), **terms["valor"]},
        "chave": account.chave,
        "solicitacaoPagador": f"Título {invoice.pk} — competência {invoice.period:%m/%Y}",
    }


def _answer_fields(charge: PixCharge, answer: dict, **extra) -> dict:
    return {"pix_copia_e_cola": answer.get("pixCopiaECola", charge.pix_copia_e_cola) or "",
            "location": (answer.get("loc") or {}).get("location") or answer.get("location") or charge.location,
            "revisao": int(answer.get("revisao", charge.revisao) or 0), "last_error": "",
            "updated_at": timezone.now(), **extra}


def _store_answer(charge: PixCharge, answer: dict, **extra) -> None:
    _update(charge, **_answer_fields(charge, answer, **extra))


CREATED_FIELDS = ["pix_copia_e_cola", "location", "revisao", "last_error", "updated_at", "status", "amount_sent",
                  "due_sent", "terms_sent", "attempts"]


def _update(charge: PixCharge, **fields) -> None:
    """Write ``fields`` to the charge's row (by its txid: the row may have just been
    inserted without its id coming back) and to the object in hand."""
    PixCharge.objects.filter(txid=charge.txid).update(**fields)
    for name, value in fields.items():
        setattr(charge, name, value)


SYNC_BATCH = 50  # títulos per task: their reads and inserts are one query each


def charge_sync(*, invoice_id: int, account: PixAccount | None = None, client: PixClient | None = None) -> PixCharge | None:
    """Bring the título's cobv in step with the título: create it (PUT), revise its
    amount (the balance), due date or the régua's terms (PATCH), remove it when the
    título is cancelled or paid by other means (PATCH status
    REMOVIDA_PELO_USUARIO_RECEBEDOR) — or, when the título is open with a balance and
    its current cobv is concluded (paid in part, its Pix given back) or removed, create
    the next one for the rest (``_needs_next``). Idempotent: called again, it does
    nothing or the same request. Runs outside any transaction (a task). Raises the PSP's
    error (kept on the charge)."""
    outcome = charges_sync(invoice_ids=[invoice_id], account=account, client=client)
    result = outcome.get(int(invoice_id))
    if isinstance(result, PixError):
        raise result
    return result


def charges_sync(*, invoice_ids, account: PixAccount | None = None,
                 client: PixClient | None = None) -> dict[int, PixCharge | PixError | None]:
    """``charge_sync`` for many títulos: one read of the títulos with their customers,
    contracts, réguas and charges, one read of the default régua and of the account, one
    INSERT of the charges they lack — then one PSP call and one UPDATE per título.
    A título's PSP error is kept on its charge (status error; retried by pix.reconcile)
    and returned in its place; the others go on."""
    from agrega.dunning.models import DunningPolicy

    ids = [int(i) for i in invoice_ids]
    invoices = list(Invoice.objects.select_related("customer", "contract__dunning_policy").filter(pk__in=ids))
    outcome: dict[int, PixCharge | PixError | None] = {i: None for i in ids}
    default_policy = None
    if any(not inv.contract.dunning_policy_id for inv in invoices):
        default_policy = DunningPolicy.objects.filter(is_default=True).first()
    charges: dict[int, PixCharge] = {}
    # each título's current cobv: its highest sequence (the earlier ones are history)
    for charge in PixCharge.objects.filter(invoice_id__in=ids).select_related("account").order_by("sequence"):
        charges[charge.invoice_id] = charge
    new = []
    no_account = False
    for invoice in invoices:
        current = charges.get(invoice.pk)
        if current is not None and not _needs_next(current, invoice):
            continue
        if current is None and (invoice.status != InvoiceStatus.OPEN or invoice.amount <= 0):
            continue
        if no_account:
            continue
        account = account or active_account()
        if account is None:
            no_account = True  # no cobv to create; the títulos that have one still sync
            continue
        sequence = current.sequence + 1 if current is not None else 0
        charges[invoice.pk] = PixCharge(invoice_id=invoice.pk, account=account, sequence=sequence,
                                        txid=txid_for(invoice.pk, sequence))
        new.append(charges[invoice.pk])
    if new:
        # one INSERT … ON CONFLICT DO NOTHING: a twin task that inserted first wins (the
        # same sequence, or a live cobv already there: uniq_pix_charge_live), and both then
        # send the same PUT (same txid)
        PixCharge.objects.bulk_create(new, ignore_conflicts=True)
        # a twin that read the título long before (its next cobv since made, even paid)
        # sends nothing: only the rows still waiting for their PUT are this task's
        waiting = set(PixCharge.objects.filter(txid__in=[c.txid for c in new], status=ChargeStatus.PENDING)
                      .values_list("txid", flat=True))
        for stale in [c for c in new if c.txid not in waiting]:
            del charges[stale.invoice_id]
    created_rows: list[PixCharge] = []
    try:
        for invoice in invoices:
            charge = charges.get(invoice.pk)
            if charge is None:
                continue
            # the process's long-lived client: one TLS context, pooled connections and the
            # token kept from one título to the next (a client per título cost more than the PUT)
            try:
                outcome[invoice.pk] = _sync(charge, invoice, client or shared_client(charge.account), default_policy,
                                            created_rows)
            except PixError as exc:
                PixCharge.objects.filter(txid=charge.txid).update(
                    status=ChargeStatus.ERROR if charge.status in (ChargeStatus.PENDING, ChargeStatus.ERROR)
                    else charge.status, attempts=charge.attempts + 1, last_error=str(exc)[:500])
                outcome[invoice.pk] = exc
    finally:
        _write_created(created_rows)
    return outcome


def _write_created(rows: list[PixCharge]) -> None:
    """The answers of the batch's PUTs, in one prepared UPDATE (``pix.sql.write_charges``)."""
    sql.write_charges(rows, CREATED_FIELDS)


def _needs_next(current: PixCharge, invoice: Invoice) -> bool:
    """The título is open with something to pay and its current cobv can no longer be
    paid (concluded by a Pix that left a balance, or whose devolução reopened it;
    removed while the título was settled, then reopened): the rest needs a new cobv."""
    return (current.status in (ChargeStatus.PAID, ChargeStatus.REMOVED)
            and invoice.status == InvoiceStatus.OPEN and due_amount(invoice) > 0)


def _sync(charge: PixCharge, invoice: Invoice, client: PixClient, default_policy=None,
          created_rows: list | None = None) -> PixCharge:
    created = charge.status in (ChargeStatus.PENDING, ChargeStatus.ERROR) and charge.amount_sent is None
    if charge.status in (ChargeStatus.PAID, ChargeStatus.REMOVED) and invoice.status == InvoiceStatus.OPEN:
        return charge  # concluded, and no next one could be made (no active account): history
    if invoice.status == InvoiceStatus.CANCELLED or (invoice.status == InvoiceStatus.PAID and not _paid_by_cobv(charge)):
        if created or charge.status == ChargeStatus.REMOVED:
            _update(charge, status=ChargeStatus.REMOVED)
        else:
            try:
                answer = client.cobv_patch(charge.txid, {"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"})
                _store_answer(charge, answer, status=ChargeStatus.REMOVED)
            except PixError as exc:
                if exc.status not in (400, 404):  # already concluded or removed at the PSP
                    raise
                _update(charge, status=ChargeStatus.REMOVED, last_error=str(exc)[:500])
        return charge
    if invoice.status == InvoiceStatus.PAID:
        _update(charge, status=ChargeStatus.PAID)
        return charge
    terms = cobv_terms(invoice, charge.account, policy_of(invoice, default_policy))
    amount = due_amount(invoice)
    if created:
        body = cobv_body(invoice, charge.account, terms)
        try:
            answer = client.cobv_put(charge.txid, body)
        except PixError as exc:
            if not exc.permanent:
                raise
            answer = _existing(client, charge.txid, exc)  # the answer of an earlier PUT was lost
        fields = dict(status=ChargeStatus.ACTIVE, amount_sent=amount, due_sent=invoice.due_date,
                      terms_sent=terms, attempts=charge.attempts + 1)
        if created_rows is None:
            _store_answer(charge, answer, **fields)
        else:  # the batch writes them in one UPDATE; lost, the charge stays pending: same PUT again
            for name, value in _answer_fields(charge, answer, **fields).items():
                setattr(charge, name, value)
            created_rows.append(charge)
    elif charge.status in (ChargeStatus.ACTIVE, ChargeStatus.ERROR) and (
            charge.amount_sent != amount or charge.due_sent != invoice.due_date
            or charge.terms_sent != terms):
        body = {"valor": {"original": _money(amount), **_zeroed(charge.terms_sent, terms), **terms["valor"]},
                "calendario": {"dataDeVencimento": invoice.due_date.isoformat(),
                               "validadeAposVencimento": terms["validadeAposVencimento"]}}
        answer = client.cobv_patch(charge.txid, body)
        _store_answer(charge, answer, amount_sent=amount, due_sent=invoice.due_date, terms_sent=terms)
    return charge


def _zeroed(sent: dict | None, terms: dict) -> dict:
    """A PATCH merges ``valor`` (the API Pix has no way to delete a multa, juros or
    desconto from a cobv): a part the régua no longer has is sent as zero instead —
    the same amount due, by the yaml's arithmetic."""
    gone = {}
    for name, item in ((sent or {}).get("valor") or {}).items():
        if name in terms["valor"]:
            continue
        if name == "desconto":
            gone[name] = {"modalidade": 3, "valorPerc": "0.00"}  # per day ahead, zero a day
        else:
            gone[name] = {"modalidade": item.get("modalidade", 1), "valorPerc": "0.00"}
    return gone


def _existing(client: PixClient, txid: str, error: PixError) -> dict:
    try:
        return client.cobv_get(txid)
    except PixError:
        raise error from None


def _paid_by_cobv(charge: PixCharge) -> bool:
    """Paid through this cobv (``pix_apply`` marks it PAID in the payment's own
    transaction), not by a baixa, a CSV or the título's Pix Automático cobr — those
    leave the cobv to be removed (docs/decisions/0011-cobv-beside-cobr.md)."""
    return charge.status == ChargeStatus.PAID


def charges_for_open_invoices(*, account_id: int) -> int:
    """First setup: a cobv for every open título that has none payable yet — none at
    all, or only concluded or removed ones (the rest gets its next cobv) — in tasks."""
    from . import tasks

    _account(account_id)
    ids = list(Invoice.objects.filter(status=InvoiceStatus.OPEN, amount__gt=0)
               .exclude(pix_charges__status__in=LIVE_CHARGE).values_list("pk", flat=True))
    tasks.enqueue_charges_sync(ids)
    return len(ids)


def charges_to_refresh(contract_ids) -> list[int]:
    """Títulos of these contracts whose current cobv no longer matches them: cancelled,
    paid by other means, balance or due date changed — or open with a balance while
    their current cobv is concluded or removed (the rest needs the next one). Read: the
    live cobranças and those of open títulos (not the history of settled ones)."""
    from django.db.models import Q

    rows = (PixCharge.objects.filter(Q(status__in=LIVE_CHARGE) | Q(invoice__status=InvoiceStatus.OPEN),
                                     invoice__contract_id__in=list(contract_ids))
            .order_by("invoice_id", "sequence")
            .values_list("invoice_id", "status", "invoice__status", "invoice__amount", "invoice__paid_amount",
                         "invoice__due_date", "amount_sent", "due_sent"))
    current = {row[0]: row for row in rows}  # the highest sequence last
    out = []
    for invoice_id, status, invoice_status, amount, paid, due, sent, due_sent in current.values():
        balance = max(amount - paid, Decimal("0"))
        if status in LIVE_CHARGE:
            if invoice_status != InvoiceStatus.OPEN or (sent is not None and (balance != sent or due != due_sent)):
                out.append(invoice_id)
        elif invoice_status == InvoiceStatus.OPEN and balance > 0:
            out.append(invoice_id)
    return out


def charges_of_policy(policy_id: int, *, is_default: bool) -> list[int]:
    """Títulos whose open cobv follows this régua (their contract names it, or names
    none and it is the default one)."""
    from django.db.models import Q

    follows = Q(invoice__contract__dunning_policy_id=policy_id)
    if is_default:
        follows |= Q(invoice__contract__dunning_policy__isnull=True)
    return list(PixCharge.objects.filter(follows, status__in=[ChargeStatus.ACTIVE, ChargeStatus.ERROR],
                                         invoice__status=InvoiceStatus.OPEN).values_list("invoice_id", flat=True))


# ---------------------------------------------------------------- receiving

def _paid_on(horario: str) -> date:
    try:
        moment = datetime.fromisoformat(horario.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt_timezone.utc)
        return timezone.localdate(moment)
    except (AttributeError, ValueError):
        return timezone.localdate()


def pix_apply(*, pix: dict, account: PixAccount | None = None) -> Payment | None:
    """Apply one Pix **the PSP confirmed** (from ``GET /pix/{e2eid}`` or ``GET /pix``):
    the baixa of the título whose cobv carries its txid, once per ``endToEndId``; its
    finished devoluções reverse what they return. A Pix of no título of ours is ignored."""
    e2eid, txid = pix.get("endToEndId") or "", pix.get("txid") or ""
    charge = PixCharge.objects.filter(txid=txid).first() if txid else None
    if charge is None or not e2eid:
        return None
    amount = parse_amount(pix.get("valor"))
    late_fees, discount = _components(pix.get("componentesValor"), amount)
    try:
        # one transaction: the cobv is PAID when the hooks of the payment run (they
        # remove a cobv only when the título was paid by other means)
        with transaction.atomic():
            outcome = billing.payment_register(
                invoice_id=charge.invoice_id, amount=amount, paid_on=_paid_on(pix.get("horario", "")),
                method=PaymentMethod.PIX, provider=PROVIDER, external_id=e2eid,
                note=f"Pix {e2eid}", actor="pix", late_fees=late_fees, discount=discount)
            payment = outcome.payment
            if outcome.created:
                _mark_paid([charge.pk])
    except InvalidTransition as exc:  # a Pix for a cancelled título: recorded for the operator
        _note_not_applied(charge, e2eid, exc)
        return None
    for dev in pix.get("devolucoes") or []:
        _settle_refund(payment, dev, account or charge.account)
    return payment


def _mark_paid(charge_ids: list[int]) -> None:
    """The cobranças whose Pix made a payment are PAID (unless already removed or paid)."""
    PixCharge.objects.filter(pk__in=charge_ids, status__in=[
        ChargeStatus.ACTIVE, ChargeStatus.ERROR, ChargeStatus.PENDING]).update(status=ChargeStatus.PAID)


def _note_not_applied(charge: PixCharge, e2eid: str, exc: InvalidTransition) -> None:
    """A Pix for a cancelled título: logged and kept on its cobrança for the operator."""
    log.warning("pix %s for título %s not applied: %s", e2eid, charge.invoice_id, exc.message)
    PixCharge.objects.filter(pk=charge.pk).update(last_error=f"Pix {e2eid} recebido: {exc.message}"[:500])


def pix_apply_many(*, pixes: list[dict]) -> list[Payment | ApplicationError | None]:
    """``pix_apply`` for a batch of Pix **the PSP confirmed** (the inbox), set-based
    (``billing.payments_register_many``: a few statements for the batch). Per Pix, in
    order: its payment, None (no título of ours, or a cancelled one: noted on the
    cobrança), or the error that refused it (``payment_id_reused``). Runs in the
    caller's transaction."""
    charges = {c.txid: c for c in PixCharge.objects.filter(
        txid__in={str(p.get("txid") or "") for p in pixes}).select_related("account")}
    out: list[Payment | ApplicationError | None] = [None] * len(pixes)
    items, index = [], []
    for n, pix in enumerate(pixes):
        e2eid, charge = pix.get("endToEndId") or "", charges.get(str(pix.get("txid") or ""))
        if charge is None or not e2eid:
            continue
        try:
            amount = parse_amount(pix.get("valor"))
        except ApplicationError as exc:
            out[n] = exc
            continue
        late_fees, discount = _components(pix.get("componentesValor"), amount)
        items.append(billing.PaymentIn(invoice_id=charge.invoice_id, amount=amount,
                                       paid_on=_paid_on(pix.get("horario", "")), external_id=e2eid,
                                       note=f"Pix {e2eid}", late_fees=late_fees, discount=discount))
        index.append(n)
    results = billing.payments_register_many(items, method=PaymentMethod.PIX, provider=PROVIDER, actor="pix")
    paid = []
    for n, result in zip(index, results):
        pix, charge = pixes[n], charges[str(pixes[n].get("txid"))]
        if isinstance(result, InvalidTransition):  # a Pix for a cancelled título: recorded for the operator
            _note_not_applied(charge, pix["endToEndId"], result)
            continue
        if isinstance(result, ApplicationError):
            out[n] = result
            continue
        if result.created:
            paid.append(charge.pk)
        for dev in pix.get("devolucoes") or []:
            _settle_refund(result.payment, dev, charge.account)
        out[n] = result.payment
    if paid:
        _mark_paid(paid)
    return out


def _components(parts, amount: Decimal) -> tuple[Decimal, Decimal]:
    """(multa + juros, desconto + abatimento) of a confirmed Pix's ``componentesValor``
    (yaml: valor = original + multa + juros − abatimento − desconto): the part of the
    amount that is not the título's, and the part of the título forgiven. Ignored (both
    zero) when they do not add up to the amount paid."""
    if not isinstance(parts, dict):
        return Decimal("0"), Decimal("0")

    def value(name: str) -> Decimal:
        try:
            return parse_amount((parts.get(name) or {}).get("valor") or "0.00", allow_zero=True)
        except (ApplicationError, AttributeError):
            return Decimal("-1")

    original, multa, juros = value("original"), value("multa"), value("juros")
    desconto, abatimento = value("desconto"), value("abatimento")
    if min(original, multa, juros, desconto, abatimento) < 0 or \
            original + multa + juros - desconto - abatimento != amount:
        return Decimal("0"), Decimal("0")
    return multa + juros, desconto + abatimento


def webhook_receive(*, secret: str, body: dict) -> dict:
    """The PSP's callback at ``…/pix/webhook/<secret>/pix``: records each Pix it names
    in the inbox (``pix.inbox``, one statement) and answers at once. The callback is only
    a hint: the inbox consumer confirms each Pix with the PSP (``GET /pix/{e2eid}``) before
    its baixa, so a forged or replayed body changes nothing."""
    from . import inbox

    items = body.get("pix") if isinstance(body, dict) else None
    valid = isinstance(items, list) and len(items) <= inbox.MAX_E2EIDS
    e2eids = inbox.valid_e2eids(items) if valid else []
    recorded = inbox.record(secret=secret, e2eids=e2eids) if e2eids else 0
    if not recorded and not (secret and PixAccount.objects.filter(webhook_secret=secret, active=True).exists()):
        raise NotFound("Webhook", "pix_webhook_unknown")
    if not valid:
        raise ApplicationError("pix_webhook_invalid", "Corpo inválido: esperado {\"pix\": [...]}.")
    return {"received": len(items), "recorded": recorded}


def reconcile(*, account_id: int, now: datetime | None = None, client: PixClient | None = None) -> dict:
    """Pull ``GET /pix?inicio&fim`` (every page) since the last covered moment, minus an
    overlap, and apply what a lost webhook missed. Applying twice is harmless."""
    account = _account(account_id)
    now = now or timezone.now()
    start = (account.reconciled_until - RECONCILE_OVERLAP) if account.reconciled_until else now - timedelta(days=1)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    inicio = start.astimezone(dt_timezone.utc).strftime(fmt)
    fim = (now + timedelta(seconds=1)).astimezone(dt_timezone.utc).strftime(fmt)
    own = client is None
    client = client or client_for(account)
    seen = applied = 0
    try:
        page = 0
        while True:
            answer = client.pix_list(inicio, fim, page=page)
            for pix in answer.get("pix") or []:
                seen += 1
                payment = pix_apply(pix=pix, account=account)
                applied += payment is not None
            pages = ((answer.get("parametros") or {}).get("paginacao") or {}).get("quantidadeDePaginas", 1)
            page += 1
            if page >= int(pages or 1):
                break
    finally:
        if own:
            client.close()
    PixAccount.objects.filter(pk=account.pk).update(reconciled_until=now)
    return {"seen": seen, "applied": applied}


def retry_failed_charges(*, limit: int = 500) -> int:
    """Charges whose PSP call failed (or never ran: a task lost with its process) are
    sent again — the same PUT/PATCH, so nothing is created twice. So are open títulos
    whose cobv is concluded or removed and that have no next one yet (its task lost, or
    no active account then): ``charges_sync`` makes it."""
    from django.db.models import Exists, OuterRef

    stale = timezone.now() - timedelta(minutes=1)
    ids = list(PixCharge.objects.filter(status__in=[ChargeStatus.ERROR, ChargeStatus.PENDING], updated_at__lt=stale)
               .values_list("invoice_id", flat=True)[:limit])
    if len(ids) < limit and active_account() is not None:
        settled = PixCharge.objects.filter(invoice_id=OuterRef("pk"), updated_at__lt=stale)
        live = PixCharge.objects.filter(invoice_id=OuterRef("pk"), status__in=LIVE_CHARGE)
        ids += list(Invoice.objects.filter(Exists(settled), ~Exists(live), status=InvoiceStatus.OPEN, amount__gt=0)
                    .values_list("pk", flat=True)[:limit - len(ids)])
    for start in range(0, len(ids), SYNC_BATCH):
        for invoice_id, result in charges_sync(invoice_ids=ids[start:start + SYNC_BATCH]).items():
            if isinstance(result, PixError):
                log.warning("cobv of título %s failed again: %s", invoice_id, result)
    return len(ids)


def reconcile_job() -> None:
    """The periodic job (settings.PERIODIC_JOBS "pix.reconcile"): pull the Pix received
    and send again the cobranças whose PSP call failed."""
    retry_failed_charges()
    for account_id in PixAccount.objects.filter(active=True).values_list("pk", flat=True):
        try:
            reconcile(account_id=account_id)
        except PixError as exc:
            log.warning("pix reconciliation of account %s failed: %s", account_id, exc)


# ---------------------------------------------------------------- refunds

def refund_id_for(refund_pk: int) -> str:
    return f"agregadev{int(refund_pk):020d}"


REFUND_REASON_MAX = 140  # yaml: DevolucaoSolicitada.descricao, maxLength 140


def refund_request(*, payment_id: int, amount, reason: str = "", invoice_id: int | None = None,
                   actor=None) -> PixRefund:
    """``PUT /pix/{e2eid}/devolucao/{id}`` for (part of) a Pix received; when the PSP
    says DEVOLVIDO the título is reopened by what was returned (billing.payment_refund).
    ``invoice_id``, when the request names the título (API, page), must be the payment's."""
    payment = Payment.objects.filter(pk=payment_id, provider=PROVIDER).first()
    if payment is None or (invoice_id is not None and payment.invoice_id != invoice_id):
        raise NotFound("Pagamento PIX deste título" if invoice_id is not None else "Pagamento PIX",
                       "pix_payment_not_found")
    reason = (reason or "").strip()
    if len(reason) > REFUND_REASON_MAX:  # refused, never cut: the PSP keeps what the payer reads
        message = f"Motivo: no máximo {REFUND_REASON_MAX} caracteres (limite do PSP)."
        raise ValidationFailed({"reason": [FieldError("too_long", message)]}, message)
    amount = parse_amount(amount)  # more than zero
    with transaction.atomic():
        # two devoluções of one Pix at once: the second waits and sees the first's amount
        Payment.objects.select_for_update().filter(pk=payment.pk).first()
        already = sum((r.amount for r in payment.pix_refunds.exclude(status=RefundStatus.FAILED)), Decimal("0"))
        if amount + already > payment.amount:
            raise ApplicationError("refund_too_large",
                                   f"A devolução passa do valor do Pix (restam {payment.amount - already:.2f}).")
        charge = (PixCharge.objects.filter(invoice_id=payment.invoice_id).select_related("account")
                  .order_by("-sequence").first())
        if charge is None:
            raise NotFound("Cobrança PIX", "pix_charge_not_found")
        refund = PixRefund.objects.create(payment=payment, account=charge.account, amount=amount,
                                          refund_id="pending" + pysecrets.token_hex(8),
                                          reason=reason, actor_label=billing._actor_label(actor))
        refund.refund_id = refund_id_for(refund.pk)
        refund.save(update_fields=["refund_id"])
    body = {"valor": _money(amount)}
    if reason:
        body["descricao"] = reason
    with client_for(charge.account) as client:
        try:
            answer = client.devolucao_put(payment.external_id, refund.refund_id, body)
        except PixError as exc:
            if exc.permanent:
                PixRefund.objects.filter(pk=refund.pk).update(status=RefundStatus.FAILED)
                raise ApplicationError("pix_refund_refused", f"O PSP recusou a devolução: {exc}") from exc
            raise ApplicationError("pix_unavailable", f"PSP indisponível; tente de novo: {exc}") from exc
    _settle_refund(payment, answer, charge.account)
    refund.refresh_from_db()
    return refund


def _settle_refund(payment: Payment, dev: dict, account: PixAccount) -> None:
    """A devolução's state from the PSP: DEVOLVIDO reverses its amount once."""
    refund_id = str(dev.get("id") or "")
    status = dev.get("status")
    with transaction.atomic():
        # contract, título, then the devolução: billing's order. The inbox's batch holds the
        # contract when it settles a devolução, and payment_refund takes it next; locking the
        # devolução first deadlocked a refund request against the inbox on PostgreSQL
        billing.invoice_lock(invoice_id=payment.invoice_id)
        refund = PixRefund.objects.select_for_update().filter(refund_id=refund_id).first()
        if refund is None:
            if status != "DEVOLVIDO":
                return
            refund = PixRefund.objects.create(payment=payment, account=account, refund_id=refund_id[:35],
                                              amount=parse_amount(dev.get("valor")), actor_label="psp")
        if refund.status != RefundStatus.REQUESTED:
            return
        if status == "DEVOLVIDO":
            billing.payment_refund(payment_id=payment.pk, amount=refund.amount,
                                   note=f"Devolução Pix {refund.refund_id}", actor="pix")
            refund.status = RefundStatus.DONE
        elif status == "NAO_REALIZADO":
            refund.status = RefundStatus.FAILED
        else:
            return
        refund.rtr_id = str(dev.get("rtrId") or "")[:40]
        refund.save(update_fields=["status", "rtr_id"])

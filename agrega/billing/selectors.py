"""Reads for billing: títulos (filtered, keyset-friendly), one título with its lines and
payments, billing runs, payment imports, and the billing summary of a contract (what its
Financeiro tab and ``GET /api/contracts/{id}/billing`` show)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from agrega.contracts.models import Contract
from agrega.customers.selectors import customer_match
from agrega.core.params import parse_id

from .models import ZERO, BillingRun, Invoice, InvoiceStatus, Payment, PaymentImport
from .services import contract_credit_balance
from .signals import contract_billing_summary


def invoice_list(
    *,
    contract_id: int | None = None,
    customer_id: int | None = None,
    status: str | None = None,
    period: date | None = None,
    overdue: bool | None = None,
    customer_q: str | None = None,
    today: date | None = None,
) -> QuerySet[Invoice]:
    """The list as ``InvoiceFilterSet`` (billing/filtersets.py) filters it, with values
    already valid. ``overdue``: True → open and past due; False → everything else.
    ``customer_q`` matches the customer's name, a piece of the CPF/CNPJ, or a contract number."""
    from .filtersets import InvoiceFilterSet

    filterset = InvoiceFilterSet(today=today)
    values = {"contract_id": contract_id, "customer_id": customer_id, "status": status or None, "period": period,
              "overdue": overdue, "q": (customer_q or "").strip() or None}
    return filterset.apply(filterset.base(), {k: v for k, v in values.items() if v is not None})


def invoice_get(pk: int) -> Invoice | None:
    return (
        Invoice.objects.select_related("customer", "contract")
        .prefetch_related("lines", Prefetch("payments", queryset=Payment.objects.order_by("id")))
        .filter(pk=pk)
        .first()
    )


def is_overdue(invoice: Invoice, today: date | None = None) -> bool:
    return invoice.status == InvoiceStatus.OPEN and invoice.due_date < (today or timezone.localdate())


def billing_run_list() -> QuerySet[BillingRun]:
    return BillingRun.objects.order_by("id")


def payment_import_list() -> QuerySet[PaymentImport]:
    return PaymentImport.objects.order_by("id")


def payment_import_get(pk: int) -> PaymentImport | None:
    return PaymentImport.objects.filter(pk=pk).first()


# ---------------------------------------------------------------- a contract's billing

@dataclass(frozen=True)
class ContractBilling:
    contract: Contract
    open_balance: Decimal
    open_invoices: int
    overdue_balance: Decimal
    oldest_open_due: date | None
    credit_balance: Decimal
    # the dunning app's part (billing.signals.contract_billing_summary)
    dunning_level: int
    dunning_stage: str  # "2 — Suspensão parcial (FA), 16 dias após o vencimento" or "Em dia"
    dunning_policy: str
    trust_release_until: datetime | None
    trust: object | None  # dunning.selectors.TrustReleaseAvailability


def contract_billing(contract: Contract, *, today: date | None = None) -> ContractBilling:
    """What the contract owes and holds, with the dunning app's part (its stage, régua
    and trust release) asked through ``contract_billing_summary``."""
    today = today or timezone.localdate()
    sums = Invoice.objects.filter(contract=contract, status=InvoiceStatus.OPEN).aggregate(
        owed=Sum("amount"), paid=Sum("paid_amount"), n=Count("id"),
        late_owed=Sum("amount", filter=Q(due_date__lt=today)),
        late_paid=Sum("paid_amount", filter=Q(due_date__lt=today)),
    )
    dunning = {"dunning_level": contract.dunning_level, "dunning_stage": "", "dunning_policy": "",
               "trust_release_until": contract.trust_release_until, "trust": None}
    for _receiver, part in contract_billing_summary.send(sender=Contract, contract=contract):
        dunning.update(part or {})
    return ContractBilling(
        contract=contract,
        open_balance=(sums["owed"] or ZERO) - (sums["paid"] or ZERO),
        open_invoices=sums["n"] or 0,
        overdue_balance=(sums["late_owed"] or ZERO) - (sums["late_paid"] or ZERO),
        oldest_open_due=contract.oldest_open_due,
        credit_balance=contract_credit_balance(contract.pk),
        **dunning,
    )


def contract_for_billing(pk: int) -> Contract | None:
    return Contract.objects.select_related("customer", "dunning_policy").filter(pk=pk).first()


def payment_list(*, status: str | None = None) -> QuerySet[Payment]:
    """Payments, oldest first, as ``PaymentFilterSet`` (billing/filtersets.py) filters them;
    ``status="held"`` is the operators' queue of held payments."""
    from .filtersets import PaymentFilterSet

    return PaymentFilterSet.filtered({"status": status or None})


def invoice_pix_brief(invoice) -> dict | None:
    """The título's current PIX cobrança (txid, status, copia-e-cola: its highest
    ``sequence`` — the earlier ones, paid in part or given back, are history) through the
    ORM's reverse relation ``pix_charges`` declared by the PIX app: the invoice detail
    (API, CLI) shows it without billing importing the PIX app. None when the título has
    no cobv."""
    charges = getattr(invoice, "pix_charges", None)
    charge = charges.order_by("-sequence").first() if charges is not None else None
    if charge is None:
        return None
    return {"txid": charge.txid, "status": charge.status, "status_label": charge.get_status_display(),
            "copia_e_cola": charge.pix_copia_e_cola, "location": charge.location}

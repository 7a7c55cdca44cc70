"""LGPD: a customer's personal data exported on request, and anonymised on request.

Export gathers what Agrega holds about the holder (registration, contracts and their
products, títulos and payments, SVA accounts, consents, the history of changes to the
customer) — never credentials or other customers' data. Anonymisation erases the
personal data in place and keeps the rows, so contracts, títulos and the revenue report
stay whole; SVA accounts are removed from the platform by the worker. It is refused
while the customer has an active contract or an open título (the ISP still needs the
data to serve or to collect)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from agrega.core.audit import record_change
from agrega.core.errors import InvalidTransition, NotFound

from .models import Customer
from .signals import customer_anonymized

ANONYMOUS_NAME = "Titular anonimizado"


def _money(value) -> str:
    return f"{value:.2f}"


def customer_personal_data(*, customer_id: int) -> dict:
    """Everything held about the customer, as plain JSON-ready data."""
    from agrega.billing.models import Invoice, Payment
    from agrega.consent.models import ConsentRecord
    from agrega.contracts.models import Contract
    from agrega.core.models import ChangeRecord
    from agrega.sva.models import SvaUser

    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise NotFound("Cliente", "customer_not_found")
    contracts = list(Contract.objects.filter(customer=customer).prefetch_related("products__product"))
    invoices = list(Invoice.objects.filter(customer=customer).prefetch_related("lines").order_by("id"))
    payments = Payment.objects.filter(invoice__customer=customer).order_by("id")
    users = SvaUser.objects.filter(contract__customer=customer).select_related("integration", "contract_product__product")
    return {
        "generated_at": timezone.now().isoformat(),
        "customer": {
            "id": customer.pk, "name": customer.name, "person_type": customer.person_type,
            "document": customer.document, "email": customer.email, "mobile_phone": customer.mobile_phone,
            "address": {"street": customer.street, "number": customer.number, "district": customer.district,
                        "city": customer.city, "state": customer.state, "zip_code": customer.zip_code},
            "created_at": customer.created_at.isoformat(),
            "anonymized_at": customer.anonymized_at.isoformat() if customer.anonymized_at else None,
        },
        "contracts": [{
            "id": c.pk, "status": c.status, "access_status": c.access_status, "billing_day": c.billing_day,
            "activated_at": c.activated_at.isoformat() if c.activated_at else None,
            "ended_at": c.ended_at.isoformat() if c.ended_at else None,
            "products": [{"product": p.product.name, "price": _money(p.price) if p.price is not None else None,
                          "added_at": p.added_at.isoformat(),
                          "removed_at": p.removed_at.isoformat() if p.removed_at else None}
                         for p in c.products.all()],
        } for c in contracts],
        "invoices": [{
            "id": i.pk, "contract_id": i.contract_id, "period": i.period.isoformat(), "due_date": i.due_date.isoformat(),
            "amount": _money(i.amount), "paid_amount": _money(i.paid_amount), "status": i.status,
            "lines": [{"description": line.description, "amount": _money(line.amount)} for line in i.lines.all()],
        } for i in invoices],
        "payments": [{"invoice_id": p.invoice_id, "amount": _money(p.amount), "paid_on": p.paid_on.isoformat(),
                      "method": p.method} for p in payments],
        "sva_accounts": [{
            "platform": u.integration.platform, "integration": u.integration.name,
            "product": u.contract_product.product.name, "email": u.confirmed_email or u.email,
            "phone": u.confirmed_phone or u.phone, "state": u.confirmed_state,
            "removed_at": u.deleted_at.isoformat() if u.deleted_at else None,
        } for u in users],
        "consents": [{
            "contract_id": r.contract_id, "product": r.product.name, "consented_at": r.consented_at.isoformat(),
            "channel": r.channel, "evidence_ref": r.evidence_ref,
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
        } for r in ConsentRecord.objects.filter(contract__customer=customer).select_related("product")],
        "change_history": [{"action": r.action, "by": r.actor_label, "at": r.created_at.isoformat(),
                            "changes": r.changes}
                           for r in ChangeRecord.objects.filter(object_type="customers.customer", object_id=str(customer.pk))],
    }


@transaction.atomic
def customer_anonymize(*, customer_id: int, actor=None, reason: str = "") -> Customer:
    from agrega.billing.models import Invoice, InvoiceStatus
    from agrega.contracts.choices import ContractStatus
    from agrega.core.models import ChangeRecord

    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise NotFound("Cliente", "customer_not_found")
    if customer.anonymized_at is not None:
        raise InvalidTransition("customer_anonymized", "Este cliente já foi anonimizado.")
    if customer.contracts.filter(status=ContractStatus.ACTIVE).exists():
        raise InvalidTransition("customer_has_active_contracts",
                                "O cliente tem contrato ativo: inative ou cancele os contratos antes de anonimizar.")
    if Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN).exists():
        raise InvalidTransition("customer_has_open_invoices",
                                "O cliente tem títulos em aberto: quite ou cancele-os antes de anonimizar.")
    customer.name = ANONYMOUS_NAME
    customer.document = f"ANON{customer.pk:010d}"[:14]
    customer.email = customer.mobile_phone = ""
    customer.street = customer.number = customer.district = customer.zip_code = ""
    customer.anonymized_at = timezone.now()
    customer.save()
    ChangeRecord.objects.filter(object_type="customers.customer", object_id=str(customer.pk)).update(
        changes={"anonimizado": True})
    record_change(instance=customer, action="anonymize", actor=actor,
                  changes={"motivo": (reason or "pedido do titular (LGPD)")[:200]})
    customer_anonymized.send(sender=Customer, customer=customer)
    return customer

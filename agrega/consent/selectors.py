"""Reads for consent: whether a contract's customer accepted a product, whether an
integration requires that before creating users, the consents of a contract, and the
report of SVA charges without consent."""

from __future__ import annotations

from django.db.models import DecimalField, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest

from .models import ConsentRecord

# The entry the consent gate puts in SvaUser.registration_problems (agrega/sva/services.py):
# it holds the creation on the platform and shows on the contract's SVA tab.
CONSENT_PROBLEM_FIELD = "consent"
CONSENT_PROBLEM = {
    "field": CONSENT_PROBLEM_FIELD,
    "code": "consent_missing",
    "message": "Consentimento do cliente não registrado para este SVA (a integração exige).",
}


def valid_consents():
    return ConsentRecord.objects.filter(revoked_at__isnull=True)


def has_consent(*, contract_id: int, product_id: int) -> bool:
    return valid_consents().filter(contract_id=contract_id, product_id=product_id).exists()


def consent_required_for(product) -> bool:
    """True when the product's SVA integration asks for consent before any user."""
    integration = getattr(product, "sva_integration", None)
    return bool(integration and integration.requires_consent)


def consent_exists_q(contract_ref: str = "pk", product_ref: str = "product_id") -> Q:
    """A filter for querysets: a valid consent exists for (contract, product)."""
    return Q(Exists(valid_consents().filter(contract_id=OuterRef(contract_ref), product_id=OuterRef(product_ref))))


def consent_gate_problems(*, integration, contract_id: int, product_id: int) -> list[dict]:
    """``[CONSENT_PROBLEM]`` when ``integration`` requires consent and (contract, product)
    has no valid one; ``[]`` otherwise. The SVA services apply it to users not yet
    created on the platform."""
    if integration is None or not integration.requires_consent:
        return []
    if has_consent(contract_id=contract_id, product_id=product_id):
        return []
    return [dict(CONSENT_PROBLEM)]


def consent_queryset() -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.select_related("contract__customer", "product__sva_integration")


def consent_list(
    *, contract_id: int | None = None, product_id: int | None = None, valid: bool | None = None
) -> QuerySet[ConsentRecord]:
    """The list as ``ConsentFilterSet`` (consent/filtersets.py) filters it, values already valid."""
    from .filtersets import ConsentFilterSet

    return ConsentFilterSet.filtered({"contract_id": contract_id, "product_id": product_id, "valid": valid})


def consent_get(pk: int) -> ConsentRecord | None:
    return consent_queryset().filter(pk=pk).first()


def contract_consent_rows(contract) -> list[dict]:
    """One row per SVA product on the contract (not removed): whether its integration
    requires consent and the valid consent, if any — for the contract's SVA tab."""
    from agrega.contracts.choices import ProductKind
    from agrega.contracts.models import ContractProduct

    items = (
        ContractProduct.objects.filter(contract=contract, removed_at__isnull=True, kind=ProductKind.SVA)
        .select_related("product__sva_integration")
        .order_by("id")
    )
    valid = {c.product_id: c for c in valid_consents().filter(contract=contract).order_by("id")}
    rows, seen = [], set()
    for item in items:
        if item.product_id in seen:
            continue
        seen.add(item.product_id)
        integration = item.product.sva_integration
        rows.append({
            "product": item.product,
            "integration": integration,
            "required": bool(integration and integration.requires_consent),
            "consent": valid.get(item.product_id),
        })
    return rows


def sva_without_consent(*, integration_id: int | None = None, contract_id: int | None = None) -> QuerySet:
    """The report as ``WithoutConsentFilterSet`` (consent/filtersets.py) filters it, values
    already valid."""
    from .filtersets import WithoutConsentFilterSet

    return WithoutConsentFilterSet.filtered({"integration_id": integration_id, "contract_id": contract_id})


def without_consent_queryset() -> QuerySet:
    """Contract products of kind SVA being charged — contract active (status A), product
    not removed — with no valid consent. Annotated with ``effective_price`` (the contract's
    price, else the product's), ``last_revoked_at`` (when a consent of that pair was last
    revoked, if ever) and ``since`` (since when the charge runs without consent: the later
    of activation, inclusion of the product and last revocation)."""
    from agrega.contracts.choices import ContractStatus, ProductKind
    from agrega.contracts.models import ContractProduct

    revoked = Subquery(
        ConsentRecord.objects.filter(
            contract_id=OuterRef("contract_id"), product_id=OuterRef("product_id"), revoked_at__isnull=False
        ).order_by("-revoked_at").values("revoked_at")[:1]
    )
    qs = (
        ContractProduct.objects.filter(
            kind=ProductKind.SVA, removed_at__isnull=True, contract__status=ContractStatus.ACTIVE
        )
        .exclude(consent_exists_q("contract_id", "product_id"))
        .select_related("contract__customer", "product__sva_integration")
        .annotate(
            effective_price=Coalesce("price", "product__price",
                                     output_field=DecimalField(max_digits=12, decimal_places=2)),
            last_revoked_at=revoked,
            charging_since=Greatest(Coalesce("contract__activated_at", "added_at"), "added_at"),
        )
        .annotate(since=Greatest("charging_since", Coalesce("last_revoked_at", "charging_since")))
    )
    return qs.order_by("id")

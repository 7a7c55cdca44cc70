"""Reads for consent: whether a contract's customer accepted a product, and whether an
integration requires that before creating users."""

from django.db.models import Exists, OuterRef, Q

from .models import ConsentRecord


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

"""Reads for SVA campaigns: the contracts a set of filters chooses, the preview counts,
the campaigns and the report of their contracts."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from agrega.consent.selectors import consent_required_for, valid_consents
from agrega.contracts.choices import ContractStatus
from agrega.contracts.models import Contract, ContractProduct

from .models import Campaign, CampaignItem

FILTER_KEYS = ("sales_plan_id", "city", "status", "access_status", "has_product_id", "lacks_product_id")


def _holds(product_id) -> Exists:
    """The contract holds the product now (a live line: not removed)."""
    return Exists(ContractProduct.objects.filter(contract=OuterRef("pk"), product_id=product_id,
                                                 removed_at__isnull=True))


def contracts_for(filters: dict) -> QuerySet[Contract]:
    """The contracts the filters choose (each filter optional; all must hold)."""
    qs = Contract.objects.all()
    if filters.get("sales_plan_id"):
        qs = qs.filter(sales_plan_id=filters["sales_plan_id"])
    if filters.get("city"):
        qs = qs.filter(customer__city__iexact=filters["city"].strip())
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("access_status"):
        qs = qs.filter(access_status=filters["access_status"])
    if filters.get("has_product_id"):
        qs = qs.filter(_holds(filters["has_product_id"]))
    if filters.get("lacks_product_id"):
        qs = qs.exclude(_holds(filters["lacks_product_id"]))
    return qs.order_by("pk")


def campaign_preview(*, product, filters: dict) -> dict:
    """How many contracts the filters choose, and how many of them the campaign would
    skip (already hold the product, cancelled, no consent when the integration asks)."""
    qs = contracts_for(filters).annotate(
        _has=_holds(product.pk),
        _consent=Exists(valid_consents().filter(contract_id=OuterRef("pk"), product_id=product.pk)),
    )
    needs_consent = consent_required_for(product)
    cancelled = Q(status=ContractStatus.CANCELLED)
    aggregates = {
        "total": Count("pk"),
        "already_has": Count("pk", filter=Q(_has=True)),
        "cancelled": Count("pk", filter=cancelled & Q(_has=False)),
        "not_active": Count("pk", filter=~Q(status=ContractStatus.ACTIVE) & ~cancelled & Q(_has=False)),
    }
    if needs_consent:
        aggregates["no_consent"] = Count("pk", filter=Q(_consent=False) & Q(_has=False) & ~cancelled)
    counts = {"no_consent": 0, **qs.aggregate(**aggregates)}
    counts["eligible"] = counts["total"] - counts["already_has"] - counts["cancelled"] - counts["no_consent"]
    counts["consent_required"] = needs_consent
    return counts


def campaign_list(*, status: str | None = None) -> QuerySet[Campaign]:
    qs = Campaign.objects.select_related("product")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-pk")


def campaign_get(pk: int) -> Campaign | None:
    return Campaign.objects.select_related("product__sva_integration").filter(pk=pk).first()


def campaign_item_list(*, campaign_id: int, status: str | None = None, reason: str | None = None,
                       ) -> QuerySet[CampaignItem]:
    qs = CampaignItem.objects.filter(campaign_id=campaign_id).select_related("contract__customer")
    if status:
        qs = qs.filter(status=status)
    if reason:
        qs = qs.filter(reason=reason)
    return qs.order_by("pk")


def campaign_reasons(campaign_id: int) -> list[dict]:
    """Counts per (status, reason), for the report's summary."""
    return list(CampaignItem.objects.filter(campaign_id=campaign_id).values("status", "reason")
                .annotate(count=Count("pk")).order_by("status", "reason"))

"""Reads for SVA campaigns: the contracts a set of filters chooses, the preview counts,
the campaigns and the report of their contracts."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from agrega.consent.selectors import consent_required_for, valid_consents
from agrega.contracts.choices import ContractStatus
from agrega.contracts.models import Contract

from .filtersets import CampaignFilterSet, CampaignItemFilterSet, CampaignListFilterSet, holds
from .models import Campaign, CampaignItem

def contracts_for(filters: dict) -> QuerySet[Contract]:
    """The contracts the filters (already cleaned: ``CampaignFilterSet.clean``) choose;
    each filter optional, all must hold."""
    return CampaignFilterSet.filtered({k: v for k, v in filters.items() if v not in (None, "")})


def campaign_preview(*, product, filters: dict) -> dict:
    """How many contracts the filters choose, and how many of them the campaign would
    skip (already hold the product, cancelled, no consent when the integration asks)."""
    qs = contracts_for(filters).annotate(
        _has=holds(product.pk),
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
    """Newest first, as ``CampaignListFilterSet`` filters them (values already valid)."""
    return CampaignListFilterSet.filtered({"status": status or None})


def campaign_get(pk: int) -> Campaign | None:
    return Campaign.objects.select_related("product__sva_integration").filter(pk=pk).first()


def campaign_item_list(*, campaign_id: int, status: str | None = None, reason: str | None = None,
                       ) -> QuerySet[CampaignItem]:
    """The report's rows as ``CampaignItemFilterSet`` filters them (values already valid)."""
    filterset = CampaignItemFilterSet(campaign_id=campaign_id)
    return filterset.apply(filterset.base(), {k: v for k, v in {"status": status, "reason": reason}.items() if v})


def campaign_reasons(campaign_id: int) -> list[dict]:
    """Counts per (status, reason), for the report's summary."""
    return list(CampaignItem.objects.filter(campaign_id=campaign_id).values("status", "reason")
                .annotate(count=Count("pk")).order_by("status", "reason"))

"""Which contracts a campaign chooses: its filters declared once for the page (the
campaign form), the API (``filters`` of ``POST /api/campaigns``), the CLI
(``agrega campaign preview|create --city …``), the preview and the run (core/filtersets.py)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from agrega.catalog.models import Product
from agrega.contracts.choices import AccessStatus, ContractStatus
from agrega.contracts.models import Contract, ContractProduct
from agrega.core.errors import FieldErrors
from agrega.core.filtersets import CHOICE, ID, Filter, FilterSet
from agrega.plans.models import SalesPlan

from .models import Campaign, CampaignItem, CampaignStatus, ItemStatus


def holds(product_id) -> Exists:
    """The contract holds the product now (a live line: not removed)."""
    return Exists(ContractProduct.objects.filter(contract=OuterRef("pk"), product_id=product_id,
                                                 removed_at__isnull=True))


class CampaignFilterSet(FilterSet):
    filters = (
        Filter("sales_plan_id", "Plano de venda", ID, lookup="sales_plan_id", option="--plan", metavar="PLANO"),
        Filter("city", "Cidade do cliente", lookup="customer__city__iexact", max_length=100, metavar="CIDADE"),
        Filter("status", "Status do contrato", CHOICE, choices=ContractStatus, code="status_invalid"),
        Filter("access_status", "Status de acesso", CHOICE, choices=AccessStatus, code="access_status_invalid"),
        Filter("has_product_id", "Contratos que têm o produto", ID, method="with_product", option="--has-product",
               metavar="PRODUTO"),
        Filter("lacks_product_id", "Contratos que não têm o produto", ID, method="without_product",
               option="--lacks-product", metavar="PRODUTO"),
    )
    invalid_message = "Filtros da campanha inválidos."

    def base(self) -> QuerySet[Contract]:
        return Contract.objects.order_by("pk")

    def validate(self, clean: dict, errors: FieldErrors) -> None:
        """The plan and the products named must exist (a campaign over nothing is a typo)."""
        if "sales_plan_id" in clean and not SalesPlan.objects.filter(pk=clean["sales_plan_id"]).exists():
            errors.add("sales_plan_id", "plan_not_found", "Plano de venda não encontrado.")
        for name in ("has_product_id", "lacks_product_id"):
            if name in clean and not Product.objects.filter(pk=clean[name]).exists():
                errors.add(name, "product_not_found", "Produto não encontrado.")

    def with_product(self, queryset: QuerySet[Contract], product_id: int) -> QuerySet[Contract]:
        return queryset.filter(holds(product_id))

    def without_product(self, queryset: QuerySet[Contract], product_id: int) -> QuerySet[Contract]:
        return queryset.exclude(holds(product_id))


class CampaignListFilterSet(FilterSet):
    """The campaigns themselves (Campanhas, ``GET /api/campaigns``, ``agrega campaign list``)."""

    filters = (
        Filter("status", "Situação", CHOICE, choices=CampaignStatus, coded=False, all_label="Todas"),
    )
    invalid_message = "Filtros de campanhas inválidos."

    def base(self) -> QuerySet[Campaign]:
        """Newest first."""
        return Campaign.objects.select_related("product").order_by("-pk")


class CampaignItemFilterSet(FilterSet):
    """The report of one campaign: each contract and its reason (the campaign's page,
    ``GET /api/campaigns/{id}/items``, ``agrega campaign report``)."""

    filters = (
        Filter("status", "Situação do contrato na campanha", CHOICE, choices=ItemStatus, coded=False,
               all_label="Todos"),
        Filter("reason", "Motivo (código)", max_length=40, metavar="MOTIVO"),
    )
    invalid_message = "Filtros do relatório da campanha inválidos."

    def __init__(self, data=None, *, campaign_id: int, strict: bool = True):
        super().__init__(data, strict=strict)
        self.campaign_id = campaign_id

    def base(self) -> QuerySet[CampaignItem]:
        return CampaignItem.objects.filter(campaign_id=self.campaign_id).select_related(
            "contract__customer").order_by("pk")

"""The form of a new campaign: the SVA product, the filters that choose the contracts,
the rate."""

from __future__ import annotations

from django import forms

from agrega.catalog.models import Product
from agrega.core.web import BootstrapFormMixin
from agrega.plans.models import SalesPlan

from .filtersets import CampaignFilterSet, CampaignListFilterSet
from .models import DEFAULT_RATE_PER_SECOND


class CampaignListFilterForm(BootstrapFormMixin, CampaignListFilterSet.form_class()):
    """The Campanhas filter bar: ``CampaignListFilterSet``'s (as the API and the CLI)."""


class ProductChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} — {obj.sva_package_code}" if obj.sva_package_code else obj.name


class CampaignForm(BootstrapFormMixin, CampaignFilterSet.form_class(only=("city", "status", "access_status"))):
    """City and statuses come from ``CampaignFilterSet`` (the declaration the API and the CLI
    share); the plan and the products are pickers here, by id in the API and the CLI."""

    name = forms.CharField(label="Nome da campanha", max_length=120)
    product = ProductChoice(
        label="Produto SVA a incluir", empty_label="— escolha —",
        queryset=Product.objects.filter(sva_integration__isnull=False, active=True).order_by("name"),
        error_messages={"required": "Escolha o produto SVA."},
    )
    sales_plan = forms.ModelChoiceField(label="Plano de venda", required=False, empty_label="Todos",
                                        queryset=SalesPlan.objects.order_by("name"))
    has_product = ProductChoice(label="Contratos que TÊM o produto", required=False, empty_label="—",
                                queryset=Product.objects.order_by("name"))
    lacks_product = ProductChoice(label="Contratos que NÃO TÊM o produto", required=False, empty_label="—",
                                  queryset=Product.objects.order_by("name"))
    rate_per_second = forms.DecimalField(
        label="Ritmo (contratos por segundo)", initial=DEFAULT_RATE_PER_SECOND, min_value=0.01, max_value=100,
        decimal_places=2, localize=True,
        help_text="Limita quantos usuários SVA são criados por segundo, para não inundar a fila do worker nem a plataforma.",
    )

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "sales_plan_id": data["sales_plan"].pk if data.get("sales_plan") else None,
            "city": data.get("city") or None,
            "status": data.get("status") or None,
            "access_status": data.get("access_status") or None,
            "has_product_id": data["has_product"].pk if data.get("has_product") else None,
            "lacks_product_id": data["lacks_product"].pk if data.get("lacks_product") else None,
        }

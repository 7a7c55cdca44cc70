"""Form of Sistema > Cadastros > Produtos (tabs Produto, Planejamento and SVA).

Light parsing only (the price is read by the service with ``core.money.parse_amount``); the rules — one package per product per
integration, the package must exist on the platform — are ``catalog.services``'.
"""

from __future__ import annotations

from django import forms

from agrega.core.web import BootstrapFormMixin, style_widget
from agrega.core.params import DB_INT_MAX

from .filtersets import ProductFilterSet
from .models import Product

TABS = {
    "produto": ("name", "active", "fiscal_class"),
    "planejamento": ("price",),
    "sva": ("sva_integration_id", "sva_package_code"),
}


class ProductFilterForm(BootstrapFormMixin, ProductFilterSet.form_class(only=("q", "is_sva", "active"),
                                                                     labels={"q": "Buscar produtos"})):
    """The Produtos filter bar: fields of ``ProductFilterSet`` (one declaration for the page,
    the API and the CLI)."""


class ProductForm(BootstrapFormMixin, forms.Form):
    service_required = ("name",)
    name = forms.CharField(label="Descrição", max_length=200, required=False)
    active = forms.BooleanField(label="Ativo", required=False, initial=True)
    fiscal_class = forms.ChoiceField(
        label="Classe fiscal", choices=Product.FiscalClass.choices, initial=Product.FiscalClass.SVA,
        help_text="SVA é tributado de forma diferente de SCM (telecomunicações).",
    )
    # Text as typed: the service reads it (core.money.parse_amount), so a bad price is shown
    # together with the other fields' errors rather than alone.
    price = forms.CharField(
        label="Valor mensal (R$)", required=False, max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0,00"}),
        help_text="Valor faturado por mês com o contrato, ex.: 19,90.",
    )
    sva_integration_id = forms.IntegerField(label="ID integração SVA", required=False, min_value=1,
                                            max_value=DB_INT_MAX, widget=forms.HiddenInput)
    sva_package_code = forms.CharField(
        label="Pacote SVA principal", max_length=64, required=False,
        help_text="Código do pacote informado pela plataforma. Cada pacote corresponde a um único produto.",
    )

    def __init__(self, *args, packages=None, **kwargs):
        """``packages``: the platform's catalogue (a select is shown), or None (free text)."""
        super().__init__(*args, **kwargs)
        self.packages = packages
        if packages is not None:
            current = self["sva_package_code"].value() or ""
            choices = [("", "Selecione o pacote…")] + [(p.code, f"{p.code} — {p.name}") for p in packages]
            if current and current not in {p.code for p in packages}:
                choices.append((current, f"{current} (não está no catálogo)"))
            field = self.fields["sva_package_code"]
            field.widget = forms.Select(choices=choices)
            style_widget(field.widget)

    def service_data(self) -> dict:
        data = {k: self.cleaned_data.get(k) for k in ("name", "fiscal_class", "sva_integration_id")}
        data["name"] = data["name"] or ""
        data["price"] = self.cleaned_data.get("price") or ""
        data["active"] = bool(self.cleaned_data.get("active"))
        data["sva_package_code"] = self.cleaned_data.get("sva_package_code") or ""
        return data

    def tab_with_errors(self) -> str | None:
        for tab, names in TABS.items():
            if any(name in self.errors for name in names):
                return tab
        return None

"""Forms of the contract pages. They only shape input; the services hold the rules and
their ``ApplicationError`` is shown next to the fields it names (``apply_error``)."""

from __future__ import annotations

from django import forms

from agrega.core.errors import ApplicationError
from agrega.core.money import amount_form_field
from agrega.core.params import DB_INT_MAX

from .choices import ProductKind
from .filtersets import ContractFilterSet, ProductPickerFilterSet


def apply_error(form: forms.Form, exc: ApplicationError, field_map: dict[str, str]) -> None:
    """Put a service error on the form: the message on top, and each named field next to
    its input (``field_map`` maps the service's field names to the form's)."""
    form.add_error(None, exc.message)
    for name, errors in exc.fields.items():
        target = field_map.get(name)
        if target and target in form.fields:
            for error in errors:
                form.add_error(target, error.message)


class ProductPickerForm(ProductPickerFilterSet.form_class(only=("q", "kind"))):
    """The contract's product lupa: its search and the item's type, read as
    ``ProductPickerFilterSet`` (the products list's filters) reads them."""


class ContractFilterForm(ContractFilterSet.form_class(only=("status", "access_status", "q"))):
    """The list's filter bar: the fields of ``ContractFilterSet`` (one declaration for the
    page, the API and the CLI), plus the page's cursor."""

    cursor = forms.IntegerField(required=False, min_value=0, max_value=DB_INT_MAX, widget=forms.HiddenInput)


def _sales_plan_choices():
    """The active Planos de Venda (agrega.plans) offered on the new-contract page."""
    from agrega.plans.selectors import active_plans

    return [("", "Nenhum: incluir os produtos depois")] + [(p.pk, p.name) for p in active_plans()]


class ContractCreateForm(forms.Form):
    customer = forms.IntegerField(
        label="Cliente", widget=forms.HiddenInput, min_value=1, max_value=DB_INT_MAX,
        error_messages={"required": "Escolha o cliente na lupa."},
    )
    billing_day = forms.IntegerField(
        label="Dia de vencimento", initial=10, min_value=1, max_value=31,
        error_messages={"min_value": "Entre 1 e 31.", "max_value": "Entre 1 e 31."},
    )
    description = forms.CharField(label="Descrição", required=False, max_length=200)
    sales_plan = forms.TypedChoiceField(
        label="Plano de venda (opcional)", required=False, coerce=int, empty_value=None,
        choices=_sales_plan_choices,
        error_messages={"invalid_choice": "Plano de venda inexistente ou inativo."},
    )


class ContractProductForm(forms.Form):
    kind = forms.ChoiceField(
        label="Tipo", choices=ProductKind.choices, initial=ProductKind.SVA, widget=forms.RadioSelect
    )
    product = forms.IntegerField(
        label="Produto/Serviço", widget=forms.HiddenInput, min_value=1, max_value=DB_INT_MAX,
        error_messages={"required": "Escolha o produto na lupa."},
    )
    price = amount_form_field(
        allow_zero=True, label="Valor (opcional)", required=False,
        help_text="Vazio: o valor do cadastro do produto.",
    )


class ContractActionForm(forms.Form):
    note = forms.CharField(
        label="Observação (opcional)", required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

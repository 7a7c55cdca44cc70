"""Form of the manual creation of an SVA user (contract > SVA > Novo; seed, Passo 4).

It only shapes the input: ``sva.services.sva_user_create`` checks the integration, the
product and the registration data, and names each wrong field."""

from __future__ import annotations

from django import forms

from agrega.core.web import BootstrapFormMixin

from .filtersets import ReconciliationItemFilterSet, ReconciliationRunFilterSet

YES_NO = [("sim", "Sim"), ("nao", "Não")]


class SvaUserCreateForm(forms.Form):
    integration = forms.TypedChoiceField(label="ID integração", coerce=int)
    contract_product = forms.TypedChoiceField(label="ID produto", coerce=int)
    use_customer_data = forms.ChoiceField(
        label="Usar dados cadastro", choices=YES_NO, initial="sim", widget=forms.RadioSelect
    )
    document = forms.CharField(label="CPF/CNPJ", required=False, max_length=20)
    email = forms.CharField(label="Usuário (e-mail)", required=False, max_length=254)
    phone = forms.CharField(label="Telefone", required=False, max_length=30)

    def __init__(self, *args, integrations, contract_products, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["integration"].choices = [(i.pk, f"{i.pk} — {i}") for i in integrations]
        self.fields["contract_product"].choices = [
            (item.pk, f"{item.product.pk} — {item.product.name} ({item.product.sva_package_code})")
            for item in contract_products
        ]

    @property
    def uses_customer_data(self) -> bool:
        value = self.data.get("use_customer_data") if self.is_bound else self.initial.get("use_customer_data")
        return (value or "sim") == "sim"


class ReconciliationRunFilterForm(BootstrapFormMixin, ReconciliationRunFilterSet.form_class(only=("status",))):
    """The filter bar of an integration's Reconciliação page (the integration is the page's):
    the fields of ``ReconciliationRunFilterSet``, as the API's and the CLI's."""


class ReconciliationItemFilterForm(BootstrapFormMixin, ReconciliationItemFilterSet.form_class()):
    """The filter bar of a run's differences: the fields of ``ReconciliationItemFilterSet``."""

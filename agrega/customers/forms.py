"""Form of Sistema > Cadastros > Clientes.

The form only carries text; ``customers.services`` normalises and checks every field
(CPF/CNPJ, e-mail, celular, UF, CEP) and its errors are shown next to the fields.
CPF/CNPJ, e-mail and celular are also checked as they are typed (``live_fields``).
"""

from __future__ import annotations

import json

from django import forms
from django.urls import reverse

from agrega.core.br import format_document, format_mobile
from agrega.core.web import BootstrapFormMixin

from .filtersets import CustomerFilterSet
from .services import UF

LIVE_FIELDS = ("document", "email", "mobile_phone")
FIELDS = ("name", "document", "email", "mobile_phone", "street", "number", "district", "city",
          "state", "zip_code", "ibge_code", "ind_ie_dest", "ie")


class CustomerFilterForm(BootstrapFormMixin, CustomerFilterSet.form_class(labels={"q": "Buscar clientes"})):
    """The Clientes filter bar: the fields of ``CustomerFilterSet`` (one declaration for the
    page, the API and the CLI)."""


class CustomerForm(BootstrapFormMixin, forms.Form):
    service_required = ("name", "document")
    name = forms.CharField(label="Nome / razão social", max_length=200, required=False)
    document = forms.CharField(
        label="CPF/CNPJ", max_length=20, required=False,
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "placeholder": "000.000.000-00 ou 00.000.000/0000-00"}),
        help_text="CPF (pessoa física) ou CNPJ (pessoa jurídica, também o CNPJ com letras).",
    )
    email = forms.CharField(
        label="E-mail principal", max_length=254, required=False,
        widget=forms.EmailInput(attrs={"placeholder": "nome@exemplo.com.br"}),
        help_text="Vira o usuário do cliente na plataforma SVA.",
    )
    mobile_phone = forms.CharField(
        label="Telefone celular", max_length=25, required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "placeholder": "(11) 98765-4321"}),
        help_text="DDD + número de celular.",
    )
    street = forms.CharField(label="Endereço", max_length=200, required=False)
    number = forms.CharField(label="Número", max_length=20, required=False)
    district = forms.CharField(label="Bairro", max_length=100, required=False)
    city = forms.CharField(label="Cidade", max_length=100, required=False)
    state = forms.ChoiceField(label="UF", required=False, choices=[("", "—")] + [(uf, uf) for uf in sorted(UF)])
    zip_code = forms.CharField(
        label="CEP", max_length=9, required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "00000-000"}),
    )

    # what the NFCom needs of the destinatário (agrega/fiscal)
    ibge_code = forms.CharField(label="Código IBGE do município", max_length=7, required=False,
                                widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "3550308"}))
    ind_ie_dest = forms.ChoiceField(label="Indicador de IE", required=False, choices=[
        ("", "—"), ("9", "9 — não contribuinte"), ("1", "1 — contribuinte do ICMS"), ("2", "2 — isento")])
    ie = forms.CharField(label="Inscrição estadual", max_length=20, required=False)

    def __init__(self, *args, customer_pk: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        url = reverse("customers:validate")
        for name in LIVE_FIELDS:
            vals = {"field": name}
            if customer_pk:
                vals["customer"] = str(customer_pk)
            self.fields[name].widget.attrs.update({
                "hx-get": url,
                "hx-trigger": "keyup changed delay:400ms, change",
                "hx-target": f"#live-{name}",
                "hx-swap": "innerHTML",
                "hx-include": "this",
                "hx-vals": json.dumps(vals),
                "hx-sync": "this:replace",
                "autocomplete": "off",
            })

    def service_data(self) -> dict:
        return {name: self.cleaned_data.get(name) or "" for name in FIELDS}


def initial_for(customer) -> dict:
    """The form's initial values, shown formatted (document with punctuation, phone national)."""
    data = {name: getattr(customer, name) for name in FIELDS}
    data["document"] = format_document(customer.document)
    data["mobile_phone"] = format_mobile(customer.mobile_phone)
    return data

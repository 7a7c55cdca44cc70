"""Forms of the Financeiro pages. They only shape input; the services hold the rules and
their ``ApplicationError`` is shown next to the fields it names."""

from __future__ import annotations

from django import forms

from agrega.core.money import amount_form_field
from agrega.core.web import BootstrapFormMixin
from agrega.core.params import DB_INT_MAX

from .filtersets import InvoiceFilterSet


class InvoiceFilterForm(BootstrapFormMixin, InvoiceFilterSet.form_class(
        only=("status", "period", "overdue", "q", "contract_id"), labels={"overdue": "Vencidos"},
        hidden=("contract_id",))):
    """The Títulos filter bar: the fields of ``InvoiceFilterSet`` (one declaration for the
    page, the API and the CLI; the contract rides along hidden), plus the page's cursor."""

    cursor = forms.IntegerField(required=False, min_value=0, max_value=DB_INT_MAX, widget=forms.HiddenInput)


class PaymentForm(BootstrapFormMixin, forms.Form):
    amount = amount_form_field(label="Valor pago (R$)",
                               widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "109,90"}))
    paid_on = forms.DateField(label="Data do pagamento", required=False,
                              input_formats=["%Y-%m-%d", "%d/%m/%Y"],
                              widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                              help_text="Vazio: hoje.")
    external_id = forms.CharField(label="Id do pagamento (opcional)", required=False, max_length=120,
                                  help_text="Comprovante, PIX ou boleto: com ele, a mesma baixa nunca é "
                                            "aplicada duas vezes.")
    note = forms.CharField(label="Observação (opcional)", required=False, max_length=250)


class CancelForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label="Motivo do cancelamento", max_length=200,
                             error_messages={"required": "Informe o motivo do cancelamento."})


class PaymentImportForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(label="Arquivo CSV", error_messages={"required": "Escolha o arquivo de pagamentos."})
    provider = forms.CharField(label="Origem (banco ou cobrador)", max_length=60,
                               error_messages={"required": "Informe a origem dos pagamentos."},
                               help_text="O id de pagamento é único por origem: o mesmo arquivo importado "
                                         "duas vezes não paga duas vezes.")


class BillingRunForm(BootstrapFormMixin, forms.Form):
    period = forms.CharField(label="Competência", max_length=7,
                             widget=forms.TextInput(attrs={"type": "month", "placeholder": "AAAA-MM"}),
                             error_messages={"required": "Informe a competência (AAAA-MM)."})

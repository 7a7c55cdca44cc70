"""Form of the consent record page. It only shapes input; ``consent.services`` holds the
rules (SVA product, channel, evidence required, not in the future, one valid consent)."""

from __future__ import annotations

from django import forms

from agrega.core.web import BootstrapFormMixin

from .filtersets import WithoutConsentFilterSet
from .models import ConsentChannel


class ConsentForm(BootstrapFormMixin, forms.Form):
    product = forms.TypedChoiceField(label="Produto SVA", coerce=int)
    consented_at = forms.DateTimeField(
        label="Data do aceite", required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Quando o cliente aceitou (vazio: agora).",
        error_messages={"invalid": "Data inválida: use dd/mm/aaaa hh:mm."},
    )
    channel = forms.ChoiceField(label="Canal", choices=[("", "Selecione…")] + ConsentChannel.choices,
                                required=False)
    evidence_ref = forms.CharField(
        label="Referência da evidência", required=False, max_length=250,
        help_text="Protocolo da ligação, nº do contrato assinado, id da mensagem…",
    )

    def __init__(self, *args, products, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [(p.pk, f"{p.pk} — {p.name} ({p.sva_package_code})") for p in products]


class RevokeForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label="Motivo (opcional)", required=False, max_length=250)


class ReportFilterForm(BootstrapFormMixin, WithoutConsentFilterSet.form_class(only=("integration_id",))):
    """The report's filter bar: ``WithoutConsentFilterSet``'s integration (the API's and the
    CLI's ``integration_id``), offered as a list of the integrations."""

    def __init__(self, *args, integrations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["integration_id"].widget = forms.Select(
            choices=[("", "Todas")] + [(i.pk, str(i)) for i in integrations], attrs={"class": "form-select"})

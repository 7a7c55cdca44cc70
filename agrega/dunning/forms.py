"""Forms of Configurações > Régua de cobrança. Light parsing only; the rules (days grow
from stage to stage, limits of the trust release) are ``dunning.services``."""

from __future__ import annotations

from django import forms

from agrega.core.web import BootstrapFormMixin

from .models import DescontoModalidade, DunningAction, JurosModalidade, MultaModalidade

PRESET_CHOICES = [("anatel", "Anatel (RGC)"), ("simples", "Simples (só bloqueio automático)")]


class PresetForm(BootstrapFormMixin, forms.Form):
    preset = forms.ChoiceField(label="Modelo", choices=PRESET_CHOICES)
    name = forms.CharField(label="Nome", max_length=100, required=False,
                           help_text="Em branco: o nome do modelo.")
    block_after_days = forms.IntegerField(label="Bloquear após (dias)", required=False, min_value=1, max_value=365,
                                          help_text="Só no modelo simples (padrão: 15).")
    make_default = forms.BooleanField(label="Tornar a régua padrão", required=False)


class PolicyForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label="Nome", max_length=100)
    trust_release_days = forms.IntegerField(label="Dias de um desbloqueio de confiança", min_value=1, max_value=30)
    trust_release_max_uses = forms.IntegerField(label="Usos permitidos no período", min_value=0, max_value=30,
                                                help_text="0: não permite desbloqueio de confiança.")
    trust_release_period_days = forms.IntegerField(label="Período dos usos (dias)", min_value=1, max_value=365)
    # the cobrança PIX (cobv): the ranges and the cross checks are dunning/charges.py
    multa_modalidade = forms.TypedChoiceField(label="Multa", choices=MultaModalidade.choices, coerce=int)
    multa_valor = forms.DecimalField(label="Valor da multa", min_value=0, max_digits=12, decimal_places=2,
                                     required=False, help_text="Em R$ ou %, conforme a modalidade; cobrada uma vez "
                                                               "após o vencimento.")
    juros_modalidade = forms.TypedChoiceField(label="Juros", choices=JurosModalidade.choices, coerce=int)
    juros_valor = forms.DecimalField(label="Valor dos juros", min_value=0, max_digits=12, decimal_places=2,
                                     required=False, help_text="Em R$ ou %, conforme a modalidade.")
    desconto_modalidade = forms.TypedChoiceField(label="Desconto", choices=DescontoModalidade.choices, coerce=int)
    desconto_valor = forms.DecimalField(label="Valor do desconto", min_value=0, max_digits=12, decimal_places=2,
                                        required=False, help_text="Em R$ ou %, conforme a modalidade.")
    desconto_dias = forms.IntegerField(label="Desconto até quantos dias antes do vencimento", min_value=0,
                                       max_value=60, required=False,
                                       help_text="Só nas modalidades de data fixa (0: até o vencimento).")
    validade_apos_vencimento = forms.IntegerField(
        label="Validade da cobrança PIX após o vencimento (dias)", min_value=0, max_value=3650, required=False,
        help_text="Vazio: a da conta PIX.")

    CHARGE_INITIAL = ("multa_modalidade", "multa_valor", "juros_modalidade", "juros_valor", "desconto_modalidade",
                      "desconto_valor", "desconto_dias", "validade_apos_vencimento")


class StageForm(BootstrapFormMixin, forms.Form):
    days_after_due = forms.IntegerField(label="Dias após o vencimento", required=False, min_value=1, max_value=3650)
    action = forms.ChoiceField(label="Ação", required=False,
                               choices=[("", "Selecione…"), *DunningAction.choices])

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return data.get("days_after_due") is None and not data.get("action")


StageFormSet = forms.formset_factory(StageForm, extra=0, can_delete=True, max_num=20, absolute_max=40)


def stage_rows(formset) -> list[tuple[int, dict]]:
    """(form index, {days_after_due, action}) of the rows kept, in the page's order."""
    rows = []
    for index, form in enumerate(formset.forms):
        if not form.is_valid() or form.cleaned_data.get("DELETE") or form.is_blank():
            continue
        rows.append((index, {"days_after_due": form.cleaned_data.get("days_after_due"),
                             "action": form.cleaned_data.get("action")}))
    return rows


class TrustReleaseForm(BootstrapFormMixin, forms.Form):
    days = forms.IntegerField(label="Dias", min_value=1, required=False,
                              error_messages={"min_value": "Pelo menos 1 dia."})
    note = forms.CharField(label="Observação", required=False, max_length=250,
                           widget=forms.Textarea(attrs={"rows": 2}))

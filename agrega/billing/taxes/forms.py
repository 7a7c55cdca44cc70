"""Form of Configurações > Tributos (SCM/SVA): one row per tax of a fiscal class.

Only light parsing; the rules (0–100 %, three places, one row per tax) are
``billing.taxes``'."""

from __future__ import annotations

from django import forms

from agrega.billing.filtersets import RevenueReportFilterSet
from agrega.core.errors import ApplicationError
from agrega.core.web import BootstrapFormMixin


class RevenueReportFilterForm(BootstrapFormMixin, RevenueReportFilterSet.form_class(only=("from", "to"))):
    """Financeiro > Receita SCM/SVA's months: the fields of ``RevenueReportFilterSet`` (one
    declaration for the page, its CSV, the API and the CLI)."""


class TaxRowForm(BootstrapFormMixin, forms.Form):
    tax = forms.CharField(label="Tributo", max_length=40, required=False,
                          widget=forms.TextInput(attrs={"placeholder": "ex.: ICMS", "autocomplete": "off"}))
    rate = forms.CharField(label="Alíquota (%)", max_length=20, required=False,
                           widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0,000"}))

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return not (data.get("tax") or "").strip() and not (data.get("rate") or "").strip()


TaxRowFormSet = forms.formset_factory(TaxRowForm, extra=0, can_delete=True, max_num=20, absolute_max=40)


def rows_of(formset) -> list[tuple[int, dict]]:
    """(form index, {tax, rate}) of the rows kept (not removed, not left blank)."""
    rows = []
    for index, form in enumerate(formset.forms):
        if not form.is_valid() or form.cleaned_data.get("DELETE") or form.is_blank():
            continue
        rows.append((index, {"tax": form.cleaned_data.get("tax", ""), "rate": form.cleaned_data.get("rate", "")}))
    return rows


def with_extra_row(data, prefix: str = "form"):
    """The POST with one more (blank) row: the "Adicionar tributo" button."""
    data = data.copy()
    key = f"{prefix}-TOTAL_FORMS"
    data[key] = str(int(data.get(key) or 0) + 1)
    return data


def show_errors(formset, rows: list[tuple[int, dict]], fiscal_class: str, exc: ApplicationError) -> list[str]:
    """Put the service's ``SCM.2.rate`` errors on the row they name (the n-th kept row);
    returns the messages that belong to no row."""
    loose = []
    for name, errors in exc.fields.items():
        parts = name.split(".")
        target = None
        if len(parts) == 3 and parts[0] == fiscal_class and parts[1].isdigit():
            position = int(parts[1]) - 1
            if 0 <= position < len(rows):
                target = (formset.forms[rows[position][0]], parts[2])
        for error in errors:
            if target is not None:
                target[0].add_error(target[1], error.message.split(": ", 1)[-1])
            else:
                loose.append(error.message)
    if not exc.fields:
        loose.append(exc.message)
    return loose

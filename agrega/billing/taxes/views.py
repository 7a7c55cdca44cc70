"""Pages of Configurações > Tributos (SCM/SVA) and Financeiro > Receita SCM/SVA.

Everyone sees the rates and the report; only CONFIGURE (administrador) edits rates."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from agrega.core.errors import ApplicationError
from agrega.core.roles import Capability
from agrega.core.permissions import CapabilityRequiredMixin

from agrega.billing import reports
from . import services as taxes
from agrega.billing.models import Invoice
from agrega.billing.filtersets import RevenueReportFilterSet
from .forms import RevenueReportFilterForm, TaxRowFormSet, rows_of, show_errors, with_extra_row


class TaxRatesView(CapabilityRequiredMixin, TemplateView):
    template_name = "billing/taxes/rates.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["classes"] = taxes.class_summaries()
        return context


class TaxClassEditView(CapabilityRequiredMixin, View):
    """The taxes of one class: rows to change, remove ("Remover") or add ("Adicionar tributo")."""

    capability = Capability.CONFIGURE
    template_name = "billing/taxes/edit.html"

    def _class(self, fiscal_class: str) -> dict:
        found = next((c for c in taxes.class_summaries() if c["fiscal_class"] == fiscal_class), None)
        if found is None:
            raise Http404("Classe fiscal desconhecida.")
        return found

    def _render(self, summary, formset, errors=(), status=200):
        return render(self.request, self.template_name,
                      {"summary": summary, "formset": formset, "errors": list(errors)}, status=status)

    def get(self, request, fiscal_class: str):
        summary = self._class(fiscal_class)
        initial = [{"tax": r.tax, "rate": taxes.plain_rate(r.rate).replace(".", ",")} for r in summary["rates"]]
        formset = TaxRowFormSet(initial=initial or [{}])
        return self._render(summary, formset)

    def post(self, request, fiscal_class: str):
        summary = self._class(fiscal_class)
        if "add" in request.POST:
            return self._render(summary, TaxRowFormSet(with_extra_row(request.POST)))
        formset = TaxRowFormSet(request.POST)
        if not formset.is_valid():
            return self._render(summary, formset, ["Corrija as linhas destacadas. Nada foi salvo."], status=422)
        rows = rows_of(formset)
        try:
            taxes.tax_rates_replace(rates={fiscal_class: [row for _, row in rows]}, actor=request.user)
        except ApplicationError as exc:
            loose = show_errors(formset, rows, fiscal_class, exc)
            return self._render(summary, formset, loose or [exc.message], status=422)
        messages.success(request, f"Alíquotas de {fiscal_class} salvas.")
        return redirect("taxes:rates")


def _default_period() -> str:
    latest = Invoice.objects.order_by("-period").values_list("period", flat=True).first()
    return (latest or timezone.localdate()).strftime("%Y-%m")


class RevenueReportView(CapabilityRequiredMixin, TemplateView):
    """Financeiro > Receita SCM/SVA: the table of the report and its CSV."""

    template_name = "billing/taxes/revenue.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # the months are RevenueReportFilterSet's, as the CSV's, the API's and the CLI's: a
        # month that does not parse is said next to its field, a wrong range above the report
        data = self.request.GET.copy()
        if data.get("period") and not data.get("from"):  # a link to one competência (?period=, as the API)
            data["from"] = data["to"] = data["period"]
        data.pop("period", None)
        data["from"] = data.get("from") or _default_period()
        data["to"] = data.get("to") or data["from"]
        form = RevenueReportFilterForm(data)
        context.update({"form": form, "report": None, "error": None, "invalid": not form.is_valid()})
        if context["invalid"]:
            return context
        try:
            first, last = RevenueReportFilterSet.range_of(form.filter_values)
        except ApplicationError as exc:
            context["error"] = exc
            return context
        report = reports.revenue_report(period_from=first, period_to=last)
        names = report.tax_names
        context.update({
            "report": report,
            "tax_names": names,
            "rows": [{"row": c, "cells": [c.tax_for(n) for n in names]} for c in report.classes],
            "tax_totals": [sum((t.amount for c in report.classes for t in c.taxes if t.tax == n),
                               start=reports.ZERO) for n in names],
            "csv_query": f"from={first:%Y-%m}&to={last:%Y-%m}",
        })
        return context

    def render_to_response(self, context, **kwargs):
        if context.get("error") is not None or context.get("invalid"):
            kwargs["status"] = 422
        return super().render_to_response(context, **kwargs)


class RevenueReportCsvView(CapabilityRequiredMixin, View):
    def get(self, request):
        try:  # the months are RevenueReportFilterSet's, as the page's
            first, last = RevenueReportFilterSet(request.GET, strict=False).months()
        except ApplicationError as exc:
            said = [e.message for errors in exc.fields.values() for e in errors] or [exc.message]
            messages.error(request, " ".join(said))
            return redirect("taxes:revenue")
        report = reports.revenue_report(period_from=first, period_to=last)
        response = HttpResponse(reports.revenue_report_csv(report).encode("utf-8"),
                                content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{reports.csv_filename(report)}"'
        return response

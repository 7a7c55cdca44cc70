"""/api/tax-rates (the rates of the SCM/SVA report) and /api/reports/revenue (the report
itself, JSON or CSV). Writing rates needs CONFIGURE; reading, VIEW."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from agrega.core.api import ErrorOut, InputSchema

from agrega.billing import reports
from agrega.billing.filtersets import RevenueReportFilterSet
from . import services as taxes

tax_rates_router = Router(tags=["Tributos"])
reports_router = Router(tags=["Relatórios"])

CLASSES_DOC = ", ".join(taxes.FiscalClass.values)


class TaxRateOut(Schema):
    tax: str
    rate: str


class TaxClassOut(Schema):
    fiscal_class: str
    label: str
    rates: list[TaxRateOut]
    total_rate: str


class TaxRatesOut(Schema):
    classes: list[TaxClassOut]


class TaxRateIn(InputSchema):
    tax: str
    rate: str | int | float


class TaxRatesIn(InputSchema):
    """Each class given has its taxes replaced by the list (an empty list removes them);
    a class left out keeps its taxes."""

    SCM: list[TaxRateIn] | None = None
    SVA: list[TaxRateIn] | None = None
    OUTRO: list[TaxRateIn] | None = None


def _rates_out() -> dict:
    return {"classes": [
        {"fiscal_class": c["fiscal_class"], "label": c["label"],
         "rates": [{"tax": r.tax, "rate": taxes.plain_rate(r.rate)} for r in c["rates"]],
         "total_rate": taxes.plain_rate(c["total_rate"])}
        for c in taxes.class_summaries()
    ]}


@tax_rates_router.get("", response={200: TaxRatesOut, 401: ErrorOut}, summary="Listar alíquotas",
                      description=f"Os tributos de cada classe fiscal ({CLASSES_DOC}) e a soma das alíquotas (%).")
def tax_rates_get(request: HttpRequest):
    return _rates_out()


@tax_rates_router.put(
    "", response={200: TaxRatesOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Substituir alíquotas",
    description="Corpo: `{\"SCM\": [{\"tax\": \"ICMS\", \"rate\": \"25\"}], \"SVA\": [{\"tax\": \"ISS\", "
                "\"rate\": \"5\"}]}`. Cada classe enviada tem seus tributos substituídos pela lista; as não "
                "enviadas ficam como estão. Alíquota de 0 a 100 (%), até três casas decimais. Nada é salvo "
                "se alguma linha for inválida (`fields`: `SCM.1.rate`…).",
)
def tax_rates_put(request: HttpRequest, payload: TaxRatesIn):
    given = {
        cls: [{"tax": row.tax, "rate": row.rate} for row in rows]
        for cls in taxes.FiscalClass.values
        if (rows := getattr(payload, cls)) is not None
    }
    taxes.tax_rates_replace(rates=given, actor=request.user)
    return _rates_out()


# ---------------------------------------------------------------- the report

class TaxAmountOut(Schema):
    tax: str
    rate: str
    amount: str


class ClassRevenueOut(Schema):
    fiscal_class: str
    label: str
    revenue: str
    lines: int
    taxes: list[TaxAmountOut]
    tax_total: str
    rate_total: str
    net: str
    share: str


class IfAllScmOut(Schema):
    taxes: list[TaxAmountOut]
    tax_total: str


class PeriodRevenueOut(Schema):
    period: str
    by_class: dict[str, str]
    total: str


class RevenueReportOut(Schema):
    from_: str = Field(alias="from")
    to: str
    invoices: int
    classes: list[ClassRevenueOut]
    revenue_total: str
    tax_total: str
    if_all_scm: IfAllScmOut
    saving: str
    by_period: list[PeriodRevenueOut]


REPORT_DOC = (
    "Receita por classe fiscal (SCM, SVA, OUTRO) dos itens dos títulos não cancelados das competências "
    "pedidas — `period=AAAA-MM` ou `from=AAAA-MM&to=AAAA-MM` (até 60 meses) —, tributos estimados com as "
    "alíquotas atuais (cada tributo arredondado ao centavo sobre a receita da classe), totais, quanto "
    "custaria se toda a receita fosse SCM (`if_all_scm`) e a economia (`saving`). Crédito aplicado no "
    "título é meio de pagamento: não reduz a receita. Valores em reais como texto com ponto decimal."
)
ERRORS = {400: ErrorOut, 401: ErrorOut, 422: ErrorOut}


def _report(period, period_from, period_to) -> reports.RevenueReport:
    # the months are RevenueReportFilterSet's (billing/filtersets.py), as on the page and in the CLI
    first, last = RevenueReportFilterSet({"period": period, "from": period_from, "to": period_to}).months()
    return reports.revenue_report(period_from=first, period_to=last)


def _month(name: str, description: str, **kwargs):
    """The query parameter of one of the report's filters (its length from the FilterSet)."""
    return Query(None, description=description, max_length=RevenueReportFilterSet.get(name).max_length, **kwargs)


@reports_router.get("/revenue", response={200: RevenueReportOut, **ERRORS}, by_alias=True,
                    summary="Receita SCM/SVA e tributos estimados", description=REPORT_DOC)
def revenue(
    request: HttpRequest,
    period: str | None = _month("period", "competência AAAA-MM", examples=["2026-11"]),
    period_from: str | None = _month("from", "competência inicial AAAA-MM", alias="from"),
    period_to: str | None = _month("to", "competência final AAAA-MM (padrão: a inicial)", alias="to"),
):
    return _report(period, period_from, period_to).as_dict()


@reports_router.get("/revenue.csv", response={200: None, **ERRORS},
                    summary="Receita SCM/SVA em CSV (Excel)",
                    description="O mesmo relatório em CSV: `;` entre campos, vírgula decimal, UTF-8 com BOM.",
                    openapi_extra={"responses": {200: {"description": "CSV para Excel", "content": {
                        "text/csv": {"schema": {"type": "string"}}}}}})
def revenue_csv(
    request: HttpRequest,
    period: str | None = _month("period", "competência AAAA-MM"),
    period_from: str | None = _month("from", "competência inicial AAAA-MM", alias="from"),
    period_to: str | None = _month("to", "competência final AAAA-MM", alias="to"),
):
    report = _report(period, period_from, period_to)
    response = HttpResponse(reports.revenue_report_csv(report).encode("utf-8"),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{reports.csv_filename(report)}"'
    return response

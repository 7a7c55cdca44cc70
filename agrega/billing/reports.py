"""The SCM/SVA revenue report: revenue per fiscal class for one or more competências,
the taxes estimated with the rates the ISP configured, and what the same revenue would
have cost in taxes if all of it were SCM (the saving that selling SVA brings).

Rules of the figures:

* revenue comes from the lines of the títulos of the period that are not cancelled,
  by the ``fiscal_class`` each line kept from its product when it was billed — so a
  product reclassified later does not change earlier months;
* credit applied to a título (``credit_applied``) is a means of payment, not a
  discount: it does not reduce revenue;
* each tax is ``revenue of the class × rate``, rounded half-up to the cent once, on
  the class's total (not line by line); a class's tax is the sum of its rounded taxes;
* the rates are the ones configured now (the report is an estimate, not bookkeeping).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DecimalField, Sum

from agrega.catalog.models import Product
from agrega.core import csvio
from agrega.core.formats import format_decimal
from agrega.core.errors import ApplicationError, FieldErrors

from .models import ZERO, Invoice, InvoiceLine, InvoiceStatus
from .services import parse_period
from .taxes.services import plain_rate, rate_br, tax_rates_by_class

CENT = Decimal("0.01")
MAX_MONTHS = 60
FiscalClass = Product.FiscalClass


@dataclass(frozen=True)
class TaxAmount:
    tax: str
    rate: Decimal
    amount: Decimal

    @property
    def rate_text(self) -> str:
        return rate_br(self.rate)

    def as_dict(self) -> dict:
        return {"tax": self.tax, "rate": plain_rate(self.rate), "amount": str(self.amount)}


@dataclass(frozen=True)
class ClassRevenue:
    fiscal_class: str
    label: str
    revenue: Decimal
    lines: int
    taxes: list[TaxAmount]
    tax_total: Decimal
    rate_total: Decimal
    share: Decimal  # % of the total revenue

    @property
    def net(self) -> Decimal:
        return self.revenue - self.tax_total

    def tax_for(self, name: str) -> TaxAmount | None:
        return next((t for t in self.taxes if t.tax == name), None)

    def as_dict(self) -> dict:
        return {"fiscal_class": self.fiscal_class, "label": self.label, "revenue": str(self.revenue),
                "lines": self.lines, "taxes": [t.as_dict() for t in self.taxes],
                "tax_total": str(self.tax_total), "rate_total": plain_rate(self.rate_total),
                "net": str(self.net), "share": str(self.share)}


@dataclass(frozen=True)
class PeriodRevenue:
    period: date
    by_class: dict[str, Decimal]
    total: Decimal

    def as_dict(self) -> dict:
        return {"period": self.period.strftime("%Y-%m"), "by_class": {k: str(v) for k, v in self.by_class.items()},
                "total": str(self.total)}


@dataclass(frozen=True)
class RevenueReport:
    period_from: date
    period_to: date
    invoices: int
    classes: list[ClassRevenue]
    revenue_total: Decimal
    tax_total: Decimal
    all_scm_taxes: list[TaxAmount]
    all_scm_tax_total: Decimal
    by_period: list[PeriodRevenue] = field(default_factory=list)

    @property
    def saving(self) -> Decimal:
        """Tax that selling part of the revenue as SVA (or other) avoided."""
        return self.all_scm_tax_total - self.tax_total

    @property
    def tax_names(self) -> list[str]:
        """Every tax that appears in the report, by name (one column each)."""
        return sorted({tax.tax for row in self.classes for tax in row.taxes})

    @property
    def period_label(self) -> str:
        first = self.period_from.strftime("%m/%Y")
        return first if self.period_from == self.period_to else f"{first} a {self.period_to:%m/%Y}"

    def as_dict(self) -> dict:
        return {
            "from": self.period_from.strftime("%Y-%m"),
            "to": self.period_to.strftime("%Y-%m"),
            "invoices": self.invoices,
            "classes": [c.as_dict() for c in self.classes],
            "revenue_total": str(self.revenue_total),
            "tax_total": str(self.tax_total),
            "if_all_scm": {"taxes": [t.as_dict() for t in self.all_scm_taxes],
                           "tax_total": str(self.all_scm_tax_total)},
            "saving": str(self.saving),
            "by_period": [p.as_dict() for p in self.by_period],
        }


def tax_on(revenue: Decimal, rate: Decimal) -> Decimal:
    return (revenue * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def report_range(*, period: str | None = None, period_from: str | None = None,
                 period_to: str | None = None) -> tuple[date, date]:
    """One competência (``period``) or a range (``from``/``to``, ``to`` defaults to
    ``from``), each ``AAAA-MM``; at most MAX_MONTHS months."""
    period, period_from, period_to = ((v or "").strip() or None for v in (period, period_from, period_to))
    if period and (period_from or period_to):
        raise _ambiguous()  # said before the months are read
    errors = FieldErrors()
    if period:
        months = {"period": _period(period, "period", errors)}
    elif period_from:
        months = {"period_from": _period(period_from, "from", errors),
                  "period_to": _period(period_to, "to", errors) if period_to else None}
    else:
        months = {}
    errors.raise_if_any()
    return checked_range(**months)


def checked_range(*, period: date | None = None, period_from: date | None = None,
                  period_to: date | None = None) -> tuple[date, date]:
    """The months of the report from competências already read (first days of months):
    one of ``period`` or ``period_from`` (``period_to`` defaults to it), at most MAX_MONTHS."""
    if period and (period_from or period_to):
        raise _ambiguous()
    if period:
        first = last = period
    elif period_from:
        first, last = period_from, period_to or period_from
    else:
        raise ApplicationError("period_required", "Informe a competência (AAAA-MM) ou o intervalo de/até.")
    if last < first:
        raise ApplicationError("period_range_invalid", "A competência final é anterior à inicial.")
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months > MAX_MONTHS:
        raise ApplicationError("period_range_too_long", f"O intervalo pode ter no máximo {MAX_MONTHS} meses.")
    return first, last


def _ambiguous() -> ApplicationError:
    return ApplicationError("period_ambiguous", "Informe a competência (period) ou o intervalo (from/to), não ambos.")


def _period(text: str, name: str, errors: FieldErrors) -> date | None:
    try:
        return parse_period(text)
    except ApplicationError as exc:
        errors.add(name, exc.code, exc.message)
        return None


def revenue_report(*, period_from: date, period_to: date | None = None) -> RevenueReport:
    """The report for the competências from ``period_from`` to ``period_to`` (first days
    of months, both included)."""
    period_to = period_to or period_from
    invoices = Invoice.objects.filter(period__gte=period_from, period__lte=period_to).exclude(
        status=InvoiceStatus.CANCELLED)
    rows = (
        InvoiceLine.objects.filter(invoice__in=invoices)
        .values("invoice__period", "fiscal_class")
        # wide enough for years of a big ISP (SQLite sums REALs: the cents come back exact below 10^13)
        .annotate(revenue=Sum("amount", output_field=DecimalField(max_digits=20, decimal_places=2)),
                  lines=Count("id"))
        .order_by("invoice__period", "fiscal_class")
    )
    revenue: dict[str, Decimal] = {value: ZERO for value in FiscalClass.values}
    lines: dict[str, int] = {value: 0 for value in FiscalClass.values}
    periods: dict[date, dict[str, Decimal]] = {}
    for row in rows:
        amount = Decimal(row["revenue"] or 0).quantize(CENT)
        cls = row["fiscal_class"]
        revenue[cls] = revenue.get(cls, ZERO) + amount
        lines[cls] = lines.get(cls, 0) + row["lines"]
        per = periods.setdefault(row["invoice__period"], {value: ZERO for value in FiscalClass.values})
        per[cls] = per.get(cls, ZERO) + amount
    total = sum(revenue.values(), ZERO)
    rates = tax_rates_by_class()
    labels = dict(FiscalClass.choices)
    classes = []
    for cls, amount in revenue.items():
        taxes = [TaxAmount(r.tax, r.rate, tax_on(amount, r.rate)) for r in rates.get(cls, [])]
        classes.append(ClassRevenue(
            fiscal_class=cls, label=labels.get(cls, cls), revenue=amount, lines=lines.get(cls, 0), taxes=taxes,
            tax_total=sum((t.amount for t in taxes), ZERO),
            rate_total=sum((t.rate for t in taxes), Decimal(0)),
            share=(amount * 100 / total).quantize(CENT, rounding=ROUND_HALF_UP) if total else ZERO,
        ))
    all_scm = [TaxAmount(r.tax, r.rate, tax_on(total, r.rate)) for r in rates.get(FiscalClass.SCM, [])]
    return RevenueReport(
        period_from=period_from, period_to=period_to, invoices=invoices.count(), classes=classes,
        revenue_total=total, tax_total=sum((c.tax_total for c in classes), ZERO),
        all_scm_taxes=all_scm, all_scm_tax_total=sum((t.amount for t in all_scm), ZERO),
        by_period=[PeriodRevenue(p, by_class, sum(by_class.values(), ZERO)) for p, by_class in sorted(periods.items())],
    )


# ---------------------------------------------------------------- CSV

def br_decimal(value: Decimal) -> str:
    """``1234.5`` → ``1234,50``: the decimal comma Excel in Portuguese reads as a number."""
    return format_decimal(value)


def revenue_report_csv(report: RevenueReport) -> str:
    """The report as CSV for Excel in Portuguese: ``;`` between fields, decimal comma,
    UTF-8 with BOM (so accents show right). One row per class, one column per tax."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csvio.writer(out, lineterminator="\r\n")
    names = report.tax_names
    writer.writerow(["Receita por classe fiscal (SCM/SVA)", f"Competência {report.period_label}",
                     f"Títulos {report.invoices}"])
    writer.writerow([])
    writer.writerow(["Classe fiscal", "Receita (R$)", "Participação (%)",
                     *[f"{n} (R$)" for n in names], "Tributos estimados (R$)", "Alíquota somada (%)",
                     "Receita líquida (R$)"])
    for row in report.classes:
        cells = []
        for name in names:
            tax = row.tax_for(name)
            cells.append(br_decimal(tax.amount) if tax else "")
        writer.writerow([row.fiscal_class, br_decimal(row.revenue), br_decimal(row.share), *cells,
                         br_decimal(row.tax_total), rate_br(row.rate_total), br_decimal(row.net)])
    totals = []
    for name in names:
        found = [t.amount for c in report.classes for t in c.taxes if t.tax == name]
        totals.append(br_decimal(sum(found, ZERO)))
    whole = Decimal(100) if report.revenue_total else ZERO
    writer.writerow(["Total", br_decimal(report.revenue_total), br_decimal(whole),
                     *totals, br_decimal(report.tax_total), "", br_decimal(report.revenue_total - report.tax_total)])
    writer.writerow([])
    writer.writerow(["Se toda a receita fosse SCM", "Receita (R$)", "Tributo", "Alíquota (%)", "Tributo estimado (R$)"])
    for tax in report.all_scm_taxes:
        writer.writerow(["", br_decimal(report.revenue_total), tax.tax, rate_br(tax.rate), br_decimal(tax.amount)])
    writer.writerow(["Total se tudo fosse SCM", br_decimal(report.revenue_total), "", "",
                     br_decimal(report.all_scm_tax_total)])
    writer.writerow(["Economia estimada", "", "", "", br_decimal(report.saving)])
    writer.writerow([])
    writer.writerow(["Competência", *[f"{c} (R$)" for c in FiscalClass.values], "Total (R$)"])
    for per in report.by_period:
        writer.writerow([per.period.strftime("%m/%Y"),
                         *[br_decimal(per.by_class.get(c, ZERO)) for c in FiscalClass.values],
                         br_decimal(per.total)])
    return out.getvalue()


def csv_filename(report: RevenueReport) -> str:
    first, last = report.period_from.strftime("%Y-%m"), report.period_to.strftime("%Y-%m")
    return f"receita-scm-sva-{first}.csv" if first == last else f"receita-scm-sva-{first}-a-{last}.csv"

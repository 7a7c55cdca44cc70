"""Reports computed from authorised NFCom (not from títulos): the SCM/SVA revenue of a
month, and the tax transition view — the same month's revenue taxed under the rules in
force in 2026, 2027 and 2033, per class, with what the SCM/SVA split saves in each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, Sum

from .models import DocStatus, NFCom, ServiceKind
from .taxrules import RuleBook

CENT = Decimal("0.01")
KINDS = (ServiceKind.SCM, ServiceKind.SVA, ServiceKind.OTHER)
TAXES = ("ICMS", "PIS", "COFINS", "CBS", "IBS_UF", "IBS_MUN")


def month_bounds(period: date) -> tuple[date, date]:
    start = period.replace(day=1)
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, end


def authorised_in(period: date):
    """Authorised NFCom issued in the month of ``period`` (a cancelled one is not revenue)."""
    start, end = month_bounds(period)
    return NFCom.objects.filter(status=DocStatus.AUTHORISED, issued_at__date__gte=start, issued_at__date__lt=end)


def revenue(period: date) -> dict:
    agg = authorised_in(period).aggregate(scm=Sum("scm_amount"), sva=Sum("sva_amount"), other=Sum("other_amount"),
                                          icms=Sum("icms_amount"), total=Sum("total"), documents=Count("id"))
    z = Decimal("0.00")
    return {"period": period.replace(day=1), "documents": agg["documents"] or 0,
            "by_class": {ServiceKind.SCM: agg["scm"] or z, ServiceKind.SVA: agg["sva"] or z,
                         ServiceKind.OTHER: agg["other"] or z},
            "icms": agg["icms"] or z, "total": agg["total"] or z}


@dataclass
class Scenario:
    year: int
    on: date
    taxes: dict = field(default_factory=dict)  # kind -> {tax: value}
    total_by_class: dict = field(default_factory=dict)
    # what the SVA revenue would pay if it were SCM, minus what it pays as SVA
    sva_saving: Decimal = Decimal("0.00")


def _taxes(rules: RuleBook, kind: str, amount: Decimal, uf: str) -> dict:
    out = {}
    for tax in TAXES:
        if tax == "ICMS" and kind != ServiceKind.SCM:
            rate = None
        else:
            rate = rules.rate(tax, uf=uf, service_kind=kind)
        out[tax] = (amount * (rate or 0) / 100).quantize(CENT)
    return out


def transition(period: date, *, uf: str, years=(2026, 2027, 2033)) -> dict:
    """One month's revenue (authorised NFCom) under the rules of each year, same month."""
    rev = revenue(period)
    scenarios = []
    for year in years:
        on = date(year, period.month, 1)
        rules = RuleBook(on)
        s = Scenario(year=year, on=on)
        for kind in KINDS:
            s.taxes[kind] = _taxes(rules, kind, rev["by_class"][kind], uf)
            s.total_by_class[kind] = sum(s.taxes[kind].values(), Decimal("0.00"))
        as_scm = sum(_taxes(rules, ServiceKind.SCM, rev["by_class"][ServiceKind.SVA], uf).values(), Decimal("0.00"))
        s.sva_saving = as_scm - s.total_by_class[ServiceKind.SVA]
        scenarios.append(s)
    return {"revenue": rev, "uf": uf, "scenarios": scenarios}

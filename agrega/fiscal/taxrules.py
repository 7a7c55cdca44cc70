"""The tax rules in force on a date (reads). A document and a report ask for the rules
of their own date, never "the current" ones."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Q

from .models import TaxRule


def rules_on(day: date) -> list[TaxRule]:
    return list(TaxRule.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day), valid_from__lte=day))


class RuleBook:
    """The rules in force on one day, looked up without further queries (one per document
    batch): the most specific row wins (UF and class before the general ones)."""

    def __init__(self, day: date, rules: list[TaxRule] | None = None):
        self.day = day
        self._rules = rules if rules is not None else rules_on(day)

    def rate(self, kind: str, *, uf: str = "", service_kind: str = "") -> Decimal | None:
        best = None
        best_score = -1
        for r in self._rules:
            if r.kind != kind or (r.uf and r.uf != uf) or (r.service_kind and r.service_kind != service_kind):
                continue
            score = (2 if r.uf else 0) + (1 if r.service_kind else 0)
            if score > best_score:
                best, best_score = r, score
        return best.rate if best is not None else None

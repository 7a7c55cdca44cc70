"""Tax rates of the SCM/SVA revenue report: rules (services) and reads (selectors).

A rate is a percentage the ISP estimates on the revenue of one fiscal class (ICMS 25 %
on SCM, ISS 5 % on SVA…); several taxes of a class add up. They are estimates for the
report, not tax bookkeeping: the ISP's accountant gives the numbers, Agrega does the sums.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.db import IntegrityError, transaction

from agrega.catalog.models import Product
from agrega.core.audit import actor_label
from agrega.core.errors import ApplicationError, Conflict, FieldErrors
from agrega.core.models import ChangeRecord
from agrega.core.money import parse_decimal

from agrega.billing.models import TaxRate

FiscalClass = Product.FiscalClass
RATE_PLACES = Decimal("0.001")
HUNDRED = Decimal(100)
MAX_TAXES_PER_CLASS = 20
# A tax's name: starts with a letter (so a CSV cell never starts with = + - @).
_TAX_NAME = re.compile(r"^[A-ZÀ-Ý][A-Z0-9À-Ý /.\-]{0,29}$")


# ---------------------------------------------------------------- parsing

def parse_fiscal_class(value) -> str:
    text = str(value or "").strip().upper()
    if text not in FiscalClass.values:
        raise ApplicationError(
            "fiscal_class_invalid",
            f"Classe fiscal inválida: {value!r}. Use {', '.join(FiscalClass.values)}.",
        )
    return text


def parse_tax_name(value) -> str:
    """``icms`` → ``ICMS``; letters, digits, space, ``/``, ``.``, ``-``; up to 30."""
    text = " ".join(str(value or "").split()).upper()
    if not text:
        raise ApplicationError("tax_name_required", "Informe o nome do tributo (ex.: ICMS, PIS, ISS).")
    if not _TAX_NAME.match(text):
        raise ApplicationError(
            "tax_name_invalid",
            f"Nome de tributo inválido: {value!r}. Use até 30 letras, números, espaço, / . ou -, "
            "começando por uma letra.",
        )
    return text


def parse_rate(value) -> Decimal:
    """A percentage from 0 to 100 with up to three decimal places: ``25``, ``3,65``,
    ``0.65``, ``"5 %"``. Raises ApplicationError (code ``rate_invalid``) otherwise."""
    if isinstance(value, bool):
        raise ApplicationError("rate_invalid", "Alíquota inválida.")
    text = str(value if value is not None else "").strip().rstrip("%").strip()
    try:
        rate = parse_decimal(text)
    except ValueError:
        raise ApplicationError("rate_invalid",
                               f"Alíquota inválida: {value!r}. Use um percentual, ex.: 25 ou 3,65.") from None
    if rate < 0 or rate > HUNDRED:
        raise ApplicationError("rate_out_of_range", f"A alíquota deve estar entre 0% e 100% (recebido: {text}%).")
    if rate != rate.quantize(RATE_PLACES):
        raise ApplicationError("rate_too_precise", "A alíquota aceita no máximo três casas decimais.")
    return rate.quantize(RATE_PLACES)


def plain_rate(rate: Decimal) -> str:
    """``25.000`` → ``25``; ``0.650`` → ``0.65`` (for JSON and the CLI)."""
    text = format(rate.quantize(RATE_PLACES), "f").rstrip("0").rstrip(".")
    return text or "0"


def rate_br(rate: Decimal) -> str:
    """``0.650`` → ``0,65`` (for pages and CSV)."""
    return plain_rate(rate).replace(".", ",")


# ---------------------------------------------------------------- services

def _record(fiscal_class: str, action: str, actor, changes: dict) -> None:
    """One ChangeRecord per class changed (rates have no history of their own)."""
    if changes:
        ChangeRecord.objects.create(
            object_type="billing.taxrate", object_id=fiscal_class, action=action,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            actor_label=actor_label(actor), changes=changes,
        )


def _current(fiscal_class: str) -> dict[str, Decimal]:
    return dict(TaxRate.objects.filter(fiscal_class=fiscal_class).values_list("tax", "rate"))


def _diff(before: dict[str, Decimal], after: dict[str, Decimal]) -> dict:
    names = sorted(set(before) | set(after))
    return {
        name: [plain_rate(before[name]) if name in before else None,
               plain_rate(after[name]) if name in after else None]
        for name in names if before.get(name) != after.get(name)
    }


@transaction.atomic
def tax_rates_replace(*, rates: dict[str, list[dict]], actor=None) -> dict[str, list[TaxRate]]:
    """Replace the rates of each class given in ``rates`` ({class: [{tax, rate}]});
    classes not given keep theirs. All or nothing: one bad row changes nothing, and
    every bad row is reported (``fields``: ``SCM.2.rate``…)."""
    errors = FieldErrors()
    clean: dict[str, dict[str, Decimal]] = {}
    for raw_class, rows in rates.items():
        try:
            fiscal_class = parse_fiscal_class(raw_class)
        except ApplicationError as exc:
            errors.add(str(raw_class), exc.code, exc.message)
            continue
        if fiscal_class in clean:
            errors.add(fiscal_class, "fiscal_class_repeated", f"Classe fiscal {fiscal_class} informada duas vezes.")
            continue
        if len(rows) > MAX_TAXES_PER_CLASS:
            errors.add(fiscal_class, "too_many_taxes",
                       f"No máximo {MAX_TAXES_PER_CLASS} tributos por classe fiscal.")
            continue
        clean[fiscal_class] = {}
        seen: set[str] = set()
        for index, row in enumerate(rows, start=1):
            where = f"{fiscal_class}.{index}"
            tax = rate = None
            try:
                tax = parse_tax_name(row.get("tax"))
            except ApplicationError as exc:
                errors.add(f"{where}.tax", exc.code, f"{fiscal_class}, linha {index}: {exc.message}")
            else:
                if tax in seen:
                    errors.add(f"{where}.tax", "tax_repeated",
                               f"{fiscal_class}, linha {index}: o tributo {tax} aparece mais de uma vez.")
                    tax = None
                else:
                    seen.add(tax)
            try:
                rate = parse_rate(row.get("rate"))
            except ApplicationError as exc:
                errors.add(f"{where}.rate", exc.code, f"{fiscal_class}, linha {index}: {exc.message}")
            if tax is not None and rate is not None:
                clean[fiscal_class][tax] = rate
    errors.raise_if_any("Alíquotas inválidas: nada foi salvo.")
    try:
        with transaction.atomic():
            for fiscal_class, wanted in clean.items():
                before = _current(fiscal_class)
                TaxRate.objects.filter(fiscal_class=fiscal_class).exclude(tax__in=list(wanted)).delete()
                for tax, rate in wanted.items():
                    if before.get(tax) != rate:
                        TaxRate.objects.update_or_create(fiscal_class=fiscal_class, tax=tax,
                                                         defaults={"rate": rate})
                _record(fiscal_class, "replace", actor, _diff(before, wanted))
    except IntegrityError:
        # another person saved the same class at the same moment
        raise Conflict("tax_rates_changed", "As alíquotas foram alteradas ao mesmo tempo por outra pessoa; "
                                            "recarregue e tente de novo.") from None
    return tax_rates_by_class()


@transaction.atomic
def tax_rate_set(*, fiscal_class, tax, rate, actor=None) -> TaxRate:
    """Create or change one tax of a class (the others stay)."""
    errors = FieldErrors()
    parsed = {}
    for name, parser, value in (("fiscal_class", parse_fiscal_class, fiscal_class),
                                ("tax", parse_tax_name, tax), ("rate", parse_rate, rate)):
        try:
            parsed[name] = parser(value)
        except ApplicationError as exc:
            errors.add(name, exc.code, exc.message)
    errors.raise_if_any()
    current = _current(parsed["fiscal_class"])
    if parsed["tax"] not in current and len(current) >= MAX_TAXES_PER_CLASS:
        raise ApplicationError("too_many_taxes", f"No máximo {MAX_TAXES_PER_CLASS} tributos por classe fiscal.")
    try:
        with transaction.atomic():
            row, _ = TaxRate.objects.update_or_create(
                fiscal_class=parsed["fiscal_class"], tax=parsed["tax"], defaults={"rate": parsed["rate"]})
    except IntegrityError:
        raise Conflict("tax_rates_changed", "O tributo foi cadastrado ao mesmo tempo por outra pessoa; "
                                            "tente de novo.") from None
    _record(parsed["fiscal_class"], "set", actor,
            _diff({parsed["tax"]: current[parsed["tax"]]} if parsed["tax"] in current else {},
                  {parsed["tax"]: parsed["rate"]}))
    return row


@transaction.atomic
def tax_rate_remove(*, fiscal_class, tax, actor=None) -> None:
    fiscal_class, tax = parse_fiscal_class(fiscal_class), parse_tax_name(tax)
    row = TaxRate.objects.select_for_update().filter(fiscal_class=fiscal_class, tax=tax).first()
    if row is None:
        raise ApplicationError("tax_rate_not_found", f"{tax} não está cadastrado para {fiscal_class}.",
                               status_code=404)
    row.delete()
    _record(fiscal_class, "remove", actor, {tax: [plain_rate(row.rate), None]})


# ---------------------------------------------------------------- selectors

def tax_rate_list(*, fiscal_class: str | None = None):
    qs = TaxRate.objects.order_by("fiscal_class", "tax")
    return qs.filter(fiscal_class=fiscal_class) if fiscal_class else qs


def tax_rates_by_class() -> dict[str, list[TaxRate]]:
    """Every fiscal class (in the catalogue's order), each with its taxes by name."""
    out: dict[str, list[TaxRate]] = {value: [] for value in FiscalClass.values}
    for row in tax_rate_list():
        out.setdefault(row.fiscal_class, []).append(row)
    return out


def class_summaries() -> list[dict]:
    """What the API, the CLI and the page show: per class, its taxes and their sum."""
    labels = dict(FiscalClass.choices)
    return [
        {"fiscal_class": value, "label": labels.get(value, value), "rates": rows,
         "rate_texts": [(r.tax, rate_br(r.rate)) for r in rows],
         "total_rate": (total := sum((r.rate for r in rows), Decimal(0))), "total_text": rate_br(total)}
        for value, rows in tax_rates_by_class().items()
    ]

"""What a régua adds to the título's cobrança PIX (cobv): multa, juros, desconto and
how long after the due date it can still be paid — the API Pix's ``valor.multa``,
``valor.juros``, ``valor.desconto`` and ``calendario.validadeAposVencimento``
(bcb-api-pix-2.9.0.yaml, CobVValor and its PUT/PATCH /cobv rules).

The rules checked here are the yaml's: modalidades in its domains; values as
``\\d{1,10}\\.\\d{2}``; a percentual desconto or multa below 100 %; desconto dates not
after the due date. A fixed-value desconto not below the título's amount is left out
of that título's cobrança (the PSP would refuse it), not refused on the régua."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.dispatch import Signal

from agrega.core.errors import FieldErrors
from agrega.core.money import parse_decimal

from .models import DescontoModalidade, DunningPolicy, JurosModalidade, MultaModalidade

# sent after commit of a change of these fields: the PIX app revises the open cobv
policy_charges_changed = Signal()  # policy_id, is_default

CHARGE_FIELDS = ("multa_modalidade", "multa_valor", "juros_modalidade", "juros_valor", "desconto_modalidade",
                 "desconto_valor", "desconto_dias", "validade_apos_vencimento")
MAX_VALUE = Decimal("9999999999.99")
PERCENT_DESCONTO = (DescontoModalidade.PERCENT_UNTIL_DATE, DescontoModalidade.PERCENT_PER_DAY_CALENDAR,
                    DescontoModalidade.PERCENT_PER_DAY_BUSINESS)
FIXED_DATE_DESCONTO = (DescontoModalidade.FIXED_UNTIL_DATE, DescontoModalidade.PERCENT_UNTIL_DATE)


def _decimal(errors: FieldErrors, name: str, value) -> Decimal | None:
    if value is None or value == "":
        return Decimal("0")
    try:
        number = parse_decimal(value)  # the one pt-BR number reader: 2,00 · 1.234,56 · 0.5
    except ValueError:
        errors.add(name, "value_invalid", "Valor inválido: use um número como 2,00.")
        return None
    if not number.is_finite() or number < 0 or number > MAX_VALUE or number != number.quantize(Decimal("0.01")):
        errors.add(name, "value_invalid", "Valor inválido: de 0,00 a 9999999999,99, com até 2 casas.")
        return None
    return number.quantize(Decimal("0.01"))


def _choice(errors: FieldErrors, name: str, value, choices) -> int | None:
    if value is None or value == "":
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or number not in choices.values:
        errors.add(name, "modalidade_invalid", "Modalidade inválida: " +
                   ", ".join(f"{v} ({label})" for v, label in choices.choices))
        return None
    return number


def clean_charges(errors: FieldErrors, current: DunningPolicy, given: dict) -> dict:
    """The charge fields of ``given`` checked against each other and the yaml, merged
    with the policy's current ones; returns only the fields given."""
    values = {f: getattr(current, f) for f in CHARGE_FIELDS}
    out = {}
    for name, choices in (("multa_modalidade", MultaModalidade), ("juros_modalidade", JurosModalidade),
                          ("desconto_modalidade", DescontoModalidade)):
        if name in given:
            out[name] = _choice(errors, name, given[name], choices)
    for name in ("multa_valor", "juros_valor", "desconto_valor"):
        if name in given:
            out[name] = _decimal(errors, name, given[name])
    if "desconto_dias" in given:
        days = given["desconto_dias"] if given["desconto_dias"] not in (None, "") else 0
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 60:
            errors.add("desconto_dias", "value_out_of_range", "Dias antes do vencimento: de 0 a 60.")
            out["desconto_dias"] = None
        else:
            out["desconto_dias"] = days
    if "validade_apos_vencimento" in given:
        days = given["validade_apos_vencimento"]
        if days in (None, ""):
            out["validade_apos_vencimento"] = None
        elif isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
            errors.add("validade_apos_vencimento", "value_out_of_range",
                       "Validade após o vencimento: de 0 a 3650 dias (vazio: a da conta PIX).")
        else:
            out["validade_apos_vencimento"] = days
    if any(v is None and k != "validade_apos_vencimento" for k, v in out.items()):
        return out  # a field is already wrong: no cross checks on it
    values.update(out)
    for kind in ("multa", "juros", "desconto"):
        modalidade, valor = values[f"{kind}_modalidade"], values[f"{kind}_valor"]
        if modalidade and not valor:
            errors.add(f"{kind}_valor", f"{kind}_value_required", f"Informe o valor da {kind} (maior que zero).")
        if not modalidade and valor:
            errors.add(f"{kind}_modalidade", f"{kind}_modalidade_required",
                       f"Escolha a modalidade da {kind} ou deixe o valor em zero.")
    if values["multa_modalidade"] == MultaModalidade.PERCENT and values["multa_valor"] >= 100:
        errors.add("multa_valor", "multa_percent_too_large", "A multa percentual deve ser menor que 100%.")
    if values["desconto_modalidade"] in PERCENT_DESCONTO and values["desconto_valor"] >= 100:
        errors.add("desconto_valor", "desconto_percent_too_large", "O desconto percentual deve ser menor que 100%.")
    if values["desconto_modalidade"] not in FIXED_DATE_DESCONTO and values["desconto_dias"]:
        errors.add("desconto_dias", "desconto_dias_unused",
                   "Dias antes do vencimento só valem para descontos de data fixa (modalidades 1 e 2).")
    return out


def _money(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def cobv_terms(policy: DunningPolicy | None, *, amount: Decimal, due: date, default_validade: int) -> dict:
    """The régua's part of a ``CobVSolicitada`` for a título of ``amount`` due on ``due``:
    ``{"validadeAposVencimento": n, "valor": {multa?, juros?, desconto?}}``."""
    valor: dict = {}
    validade = default_validade
    if policy is not None:
        if policy.validade_apos_vencimento is not None:
            validade = policy.validade_apos_vencimento
        if policy.multa_modalidade and policy.multa_valor > 0:
            valor["multa"] = {"modalidade": policy.multa_modalidade, "valorPerc": _money(policy.multa_valor)}
        if policy.juros_modalidade and policy.juros_valor > 0:
            valor["juros"] = {"modalidade": policy.juros_modalidade, "valorPerc": _money(policy.juros_valor)}
        mod, value = policy.desconto_modalidade, policy.desconto_valor
        fixed_value = mod in (DescontoModalidade.FIXED_UNTIL_DATE,)
        if mod and value > 0 and not (fixed_value and value >= amount):
            if mod in FIXED_DATE_DESCONTO:
                until = due - timedelta(days=policy.desconto_dias or 0)
                valor["desconto"] = {"modalidade": mod,
                                     "descontoDataFixa": [{"data": until.isoformat(), "valorPerc": _money(value)}]}
            else:
                valor["desconto"] = {"modalidade": mod, "valorPerc": _money(value)}
    return {"validadeAposVencimento": int(validade), "valor": valor}

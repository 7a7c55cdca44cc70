"""The banking calendar: which days are "dias úteis" for a cobrança's due date, multa,
juros and desconto. bcb-api-pix-2.9.0.yaml (``validadeAposVencimento``): "Sempre que a
data de vencimento cair em um fim de semana ou em um feriado para o usuário pagador, ela
deve ser automaticamente prorrogada para o primeiro dia útil subsequente", and juros or
desconto "(dias úteis)" count only those days.

One place for Agrega and for the PSP sandbox (``pix_sandbox.store`` imports it): plain
Python, no Django, so the sandbox uses it without Agrega's settings.

A dia útil is a weekday that is neither a national holiday nor a day the banks do not
open — the FEBRABAN calendar that the financial system settles by: the fixed national
holidays plus the movable ones, from Easter. **Carnaval** (Monday and Tuesday) is by
law only a "ponto facultativo" (for the federal civil service), but the banks are
closed and nothing settles on it, so for money it is not a dia útil; **Sexta-feira
Santa** is a national holiday; **Corpus Christi** is a ponto facultativo on which the
banks close nationwide. Ash Wednesday (banks open at noon) is a dia útil. State and
municipal holidays (the yaml's "feriado para o usuário pagador") are not here: the
sandbox, like a national PSP calendar, does not know the payer's município."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

# (month, day): Confraternização Universal, Tiradentes, Dia do Trabalho, Independência,
# Nossa Senhora Aparecida, Finados, Proclamação da República, Dia Nacional de Zumbi e da
# Consciência Negra (Lei 14.759/2023), Natal
FIXED_HOLIDAYS = frozenset({(1, 1), (4, 21), (5, 1), (9, 7), (10, 12), (11, 2), (11, 15), (11, 20), (12, 25)})


def easter(year: int) -> dt.date:
    """Easter Sunday of the Gregorian calendar (the "anonymous Gregorian algorithm",
    Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return dt.date(year, month, day + 1)


@lru_cache(maxsize=64)
def movable_holidays(year: int) -> dict[dt.date, str]:
    """The days, from Easter, on which banks do not settle: Carnaval, Sexta-feira Santa,
    Corpus Christi."""
    sunday = easter(year)
    return {
        sunday - dt.timedelta(days=48): "Carnaval (segunda-feira)",
        sunday - dt.timedelta(days=47): "Carnaval (terça-feira)",
        sunday - dt.timedelta(days=2): "Sexta-feira Santa",
        sunday + dt.timedelta(days=60): "Corpus Christi",
    }


def is_holiday(day: dt.date) -> bool:
    return (day.month, day.day) in FIXED_HOLIDAYS or day in movable_holidays(day.year)


def is_business_day(day: dt.date) -> bool:
    """A dia útil for the financial system: a weekday, not a holiday above."""
    return day.weekday() < 5 and not is_holiday(day)


def next_business_day(day: dt.date) -> dt.date:
    """``day`` itself if a dia útil, else the first one after it."""
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Dias úteis in (start, end]."""
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        count += is_business_day(day)
    return count

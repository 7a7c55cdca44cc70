"""The banking calendar shared by Agrega and the PSP sandbox (agrega/core/feriados.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from agrega.core import feriados

D = dt.date


@pytest.mark.parametrize("year, sunday", [(2024, D(2024, 3, 31)), (2025, D(2025, 4, 20)), (2026, D(2026, 4, 5)),
                                          (2027, D(2027, 3, 28)), (2028, D(2028, 4, 16)), (2038, D(2038, 4, 25)),
                                          (2285, D(2285, 3, 22))])
def test_easter(year, sunday):
    assert feriados.easter(year) == sunday


@pytest.mark.parametrize("year, carnaval, sexta_santa, corpus", [
    (2025, (D(2025, 3, 3), D(2025, 3, 4)), D(2025, 4, 18), D(2025, 6, 19)),
    (2026, (D(2026, 2, 16), D(2026, 2, 17)), D(2026, 4, 3), D(2026, 6, 4)),
    (2027, (D(2027, 2, 8), D(2027, 2, 9)), D(2027, 3, 26), D(2027, 5, 27)),
    (2028, (D(2028, 2, 28), D(2028, 2, 29)), D(2028, 4, 14), D(2028, 6, 15)),
])
def test_movable_holidays_are_not_business_days(year, carnaval, sexta_santa, corpus):
    assert set(feriados.movable_holidays(year)) == {*carnaval, sexta_santa, corpus}
    for day in (*carnaval, sexta_santa, corpus):
        assert day.weekday() < 5 and not feriados.is_business_day(day)
    ash_wednesday = carnaval[1] + dt.timedelta(days=1)
    assert feriados.is_business_day(ash_wednesday)  # the banks open at noon: a dia útil
    assert feriados.next_business_day(carnaval[0]) == ash_wednesday
    after_easter = sexta_santa + dt.timedelta(days=3)  # the Monday after Easter (Tiradentes in 2025)
    expected = after_easter + dt.timedelta(days=1) if (after_easter.month, after_easter.day) == (4, 21) else after_easter
    assert feriados.next_business_day(sexta_santa) == expected


def test_fixed_holidays_weekends_and_counting():
    assert not feriados.is_business_day(D(2026, 11, 20))  # Consciência Negra, a Friday
    assert not feriados.is_business_day(D(2026, 12, 25))
    assert not feriados.is_business_day(D(2026, 12, 12))  # a Saturday
    assert feriados.is_business_day(D(2026, 12, 7))
    assert feriados.next_business_day(D(2026, 12, 25)) == D(2026, 12, 28)
    # (Thu 25 Mar 2027, Mon 29 Mar]: Sexta-feira Santa and the weekend are not counted
    assert feriados.business_days_between(D(2027, 3, 25), D(2027, 3, 29)) == 1
    # (Fri 5 Feb 2027, Fri 12 Feb]: Carnaval Mon/Tue left out → Wed, Thu, Fri
    assert feriados.business_days_between(D(2027, 2, 5), D(2027, 2, 12)) == 3

"""The access key: 44 characters, layout of the MOC, check digit modulo 11 — a
property test over any valid parts, including the alphanumeric CNPJ."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agrega.core.br import cnpj_check_digits
from agrega.fiscal.key import KeyParts, build_key, check_digit, is_valid_key

ufs = st.sampled_from(["11", "35", "41", "43", "53"])
alnum = st.text(alphabet=string.digits + string.ascii_uppercase, min_size=12, max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a shared, loaded machine
@given(uf=ufs, year=st.integers(0, 99), month=st.integers(1, 12), base=alnum, serie=st.integers(0, 999),
       number=st.integers(1, 999_999_999), tp_emis=st.sampled_from([1, 2]), site=st.sampled_from([0, 1]),
       cnf=st.integers(0, 9_999_999))
def test_key_layout_and_check_digit(uf, year, month, base, serie, number, tp_emis, site, cnf):
    cnpj = base + cnpj_check_digits(base)
    key = build_key(KeyParts(uf, f"{year:02d}{month:02d}", cnpj, serie, number, tp_emis, site, f"{cnf:07d}"))
    assert len(key) == 44 and is_valid_key(key)
    assert key[:2] == uf and key[6:20] == cnpj and key[20:22] == "62"
    assert int(key[22:25]) == serie and int(key[25:34]) == number and key[34] == str(tp_emis)
    assert key[35] == str(site) and int(key[36:43]) == cnf
    # the check digit: weights 2..9 from the right, modulo 11, 0 for remainders 0 and 1
    total = sum((ord(c) - 48) * (2 + i % 8) for i, c in enumerate(reversed(key[:43])))
    assert int(key[43]) == (0 if total % 11 < 2 else 11 - total % 11)
    # any single changed digit is caught
    wrong = key[:43] + str((int(key[43]) + 1) % 10)
    assert not is_valid_key(wrong)


def test_sample_key_of_the_nfelib_sample():
    # the access key in nfelib's official sample (NFCom-nfcom.xml) has check digit 5
    assert check_digit("4125030611747300015062001000000123101234567") == 5

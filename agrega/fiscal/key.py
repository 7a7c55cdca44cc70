"""The NFCom access key (chave de acesso), 44 characters (MOC NFCom, item "Chave de
Acesso"): cUF(2) AAMM(4) CNPJ(14, alphanumeric allowed) mod(2)=62 série(3) nNF(9)
tpEmis(1) nSiteAutoriz(1) cNF(7) cDV(1). The check digit is modulo 11 with weights 2..9
from the right; a letter of the alphanumeric CNPJ counts as its ASCII code minus 48, as
in the CNPJ's own check digits. Remainder 0 or 1 gives 0."""

from __future__ import annotations

import hmac
import hashlib
from dataclasses import dataclass

MODEL = "62"


def check_digit(key43: str) -> int:
    total = 0
    weight = 2
    for char in reversed(key43):
        total += (ord(char) - 48) * weight
        weight = 2 if weight == 9 else weight + 1
    rest = total % 11
    return 0 if rest in (0, 1) else 11 - rest


@dataclass(frozen=True)
class KeyParts:
    c_uf: str
    yymm: str
    cnpj: str
    serie: int
    number: int
    tp_emis: int
    n_site_autoriz: int
    c_nf: str


def build_key(parts: KeyParts) -> str:
    if len(parts.cnpj) != 14 or not (1 <= parts.number <= 999_999_999) or not (0 <= parts.serie <= 999):
        raise ValueError("invalid key parts")
    base = (f"{parts.c_uf:0>2}{parts.yymm}{parts.cnpj}{MODEL}{parts.serie:03d}{parts.number:09d}"
            f"{parts.tp_emis}{parts.n_site_autoriz}{parts.c_nf:0>7}")
    assert len(base) == 43, base
    return base + str(check_digit(base))


def is_valid_key(key: str) -> bool:
    return (len(key) == 44 and key[:6].isdigit() and key[6:18].isalnum() and key[18:].isdigit()
            and key[20:22] == MODEL and check_digit(key[:43]) == int(key[43]))


def random_code(secret: str, *, serie: int, number: int, environment: int) -> str:
    """cNF: 7 digits that outsiders cannot guess from the number (the MOC asks for a
    random code); derived from a secret so rebuilding a document gives the same key."""
    digest = hmac.new(secret.encode(), f"{environment}:{serie}:{number}".encode(), hashlib.sha256).hexdigest()
    code = f"{int(digest, 16) % 10_000_000:07d}"
    # never the number itself (MOC: cNF different from nNF)
    return code if int(code) != number % 10_000_000 else f"{(int(code) + 1) % 10_000_000:07d}"


UF_CODES = {
    "RO": "11", "AC": "12", "AM": "13", "RR": "14", "PA": "15", "AP": "16", "TO": "17", "MA": "21", "PI": "22",
    "CE": "23", "RN": "24", "PB": "25", "PE": "26", "AL": "27", "SE": "28", "BA": "29", "MG": "31", "ES": "32",
    "RJ": "33", "SP": "35", "PR": "41", "SC": "42", "RS": "43", "MS": "50", "MT": "51", "GO": "52", "DF": "53",
}

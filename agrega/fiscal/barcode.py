"""``gFat/codBarras``: the linha digitável of the fatura's barcode (MOC NFCom, Anexo I
#231, ER61 ``[0-9]{1,48}``; required in gFat — NT 2023.001 lets ``codDebAuto`` go beside
it). Two FEBRABAN layouts fit: the boleto bancário's 47 digits and the arrecadação (and
concessionárias') 48. Their check digits are verified here, so a mistyped line is refused
before it is signed into a fiscal document and printed on the DANFE-COM.

The MOC has no value for a fatura without a barcode (paid by PIX, ``gPIX``): see
``services.barcode_for`` and docs/fiscal.md."""

from __future__ import annotations


def mod10(digits: str) -> int:
    """FEBRABAN módulo 10: weights 2,1,2,1… from the right, the digits of each product summed."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _mod11_boleto(digits: str) -> int:
    """General check digit of the boleto's 44-digit barcode: weights 2..9 from the right,
    11 − remainder; 0, 10 and 11 become 1."""
    total, weight = 0, 2
    for ch in reversed(digits):
        total += int(ch) * weight
        weight = 2 if weight == 9 else weight + 1
    dv = 11 - total % 11
    return 1 if dv in (0, 10, 11) else dv


def _mod11_arrecadacao(digits: str) -> int:
    """Arrecadação's módulo 11: remainder 0 or 1 gives 0, else 11 − remainder."""
    total, weight = 0, 2
    for ch in reversed(digits):
        total += int(ch) * weight
        weight = 2 if weight == 9 else weight + 1
    rest = total % 11
    return 0 if rest in (0, 1) else 11 - rest


def boleto_ok(line: str) -> bool:
    """47 digits: three fields with their módulo-10 digits, the general digit (position
    33) of the barcode they make, the due-date factor and amount."""
    if len(line) != 47 or not line.isdigit():
        return False
    fields = ((0, 9), (10, 20), (21, 31))
    if any(mod10(line[a:b]) != int(line[b]) for a, b in fields):
        return False
    barcode_without_dv = line[0:4] + line[33:47] + line[4:9] + line[10:20] + line[21:31]
    return _mod11_boleto(barcode_without_dv) == int(line[32])


def arrecadacao_ok(line: str) -> bool:
    """48 digits: product 8, then four blocks of 11 digits each followed by its check
    digit, módulo 10 when the value identifier (3rd digit) is 6 or 7, módulo 11 when 8 or 9."""
    if len(line) != 48 or not line.isdigit() or line[0] != "8" or line[2] not in "6789":
        return False
    check = mod10 if line[2] in "67" else _mod11_arrecadacao
    return all(check(line[i:i + 11]) == int(line[i + 11]) for i in range(0, 48, 12))


def is_valid_line(line: str) -> bool:
    return boleto_ok(line) or arrecadacao_ok(line)


def formatted(line: str) -> str:
    """The line as printed for people (the DANFE-COM); anything else unchanged."""
    if boleto_ok(line):
        return (f"{line[0:5]}.{line[5:10]} {line[10:15]}.{line[15:21]} {line[21:26]}.{line[26:32]} "
                f"{line[32]} {line[33:47]}")
    if arrecadacao_ok(line):
        return " ".join(f"{line[i:i + 11]}-{line[i + 11]}" for i in range(0, 48, 12))
    return line

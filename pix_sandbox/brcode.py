"""The BR Code (EMV® QRCPS-MPM payload) of a dynamic Pix charge.

The copia-e-cola a PSP returns in ``pixCopiaECola`` is this text; the QR code is the same
text drawn as a QR. For a dynamic charge the payload carries the *location* of the
charge (ID 26, sub-ID 25) instead of the amount rules, and the point of initiation is
``12`` (one use). The CRC (ID 63) is CRC16-CCITT (polynomial 0x1021, initial 0xFFFF) over
the whole text including ``6304``.
"""

from __future__ import annotations

import unicodedata


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_TABLE = _table()


def crc16(data: bytes) -> str:
    """CRC16-CCITT-FALSE (poly 0x1021, init 0xFFFF), four upper-case hex digits (ID 63)."""
    crc = 0xFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[(crc >> 8) ^ byte]
    return f"{crc:04X}"


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"EMV field {tag} longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def _ascii(text: str, limit: int) -> str:
    """Names and cities go in ASCII upper-case (payer apps show them as they are)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.upper().split())[:limit] or "N/A"


def dynamic_payload(*, location: str, merchant_name: str, merchant_city: str,
                    amount: str | None = None) -> str:
    """The copia-e-cola of a charge served at ``location`` (a URL without scheme)."""
    account = _field("00", "br.gov.bcb.pix") + _field("25", location)
    body = (
        _field("00", "01")
        + _field("01", "12")
        + _field("26", account)
        + _field("52", "0000")
        + _field("53", "986")
        + (_field("54", amount) if amount else "")
        + _field("58", "BR")
        + _field("59", _ascii(merchant_name, 25))
        + _field("60", _ascii(merchant_city, 15))
        + _field("62", _field("05", "***"))
        + "6304"
    )
    return body + crc16(body.encode("ascii"))

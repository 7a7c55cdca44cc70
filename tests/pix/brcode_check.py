"""What a customer's bank app does with a PIX QR code, done by code that is not Agrega's:
the image decoded by a maintained QR decoder (zxing-cpp, PyPI ``zxing-cpp``) and the
payload parsed by a BR Code parser written by a PSP (Stark Bank's ``starkbank-brcode``;
its last release is from 2022 — no maintained BR Code parser is on PyPI — so the CRC16
is also checked with the project's own validator, pix_sandbox/brcode.py, and with the
standard library's ``binascii.crc_hqx``)."""

from __future__ import annotations

import binascii
import io

import zxingcpp
from brcode.utils.brcodeId import jsonFromBrcode
from PIL import Image

from pix_sandbox import brcode as project_brcode


def decode_qr(image: bytes | Image.Image) -> str:
    """The text of the one QR code in ``image`` (PNG bytes or a PIL image)."""
    picture = Image.open(io.BytesIO(image)) if isinstance(image, bytes) else image
    found = zxingcpp.read_barcodes(picture.convert("L"))
    assert len(found) == 1, f"{len(found)} códigos na imagem"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode, found[0].format
    assert found[0].valid
    return found[0].text


def parse_brcode(payload: str) -> dict:
    """The BR Code's fields (EMV QRCPS-MPM, templates 26 and 62 opened), CRC16 checked
    three ways (the parser refuses a wrong CRC with ValueError)."""
    fields = jsonFromBrcode(payload)
    assert payload[-8:-4] == "6304", "the CRC (ID 63) must be the last field"
    assert fields["63"] == project_brcode.crc16(payload[:-4].encode("utf-8"))
    assert fields["63"] == "%04X" % binascii.crc_hqx(payload[:-4].encode("utf-8"), 0xFFFF)
    return fields

"""Validation against the official NFCom schemas v1.00 that nfelib ships: a document
that does not validate is never signed nor sent."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import nfelib.nfcom
from lxml import etree

from agrega.core.errors import ApplicationError

SCHEMAS = Path(nfelib.nfcom.__file__).parent / "schemas" / "v1_0"
NFCOM = "nfcom_v1.00.xsd"
EVENT = "eventoNFCom_v1.00.xsd"
EV_CANC = "evCancNFCom_v1.00.xsd"


@lru_cache(maxsize=8)
def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name)))


def errors(xml: bytes | etree._Element, name: str = NFCOM) -> list[str]:
    doc = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    s = schema(name)
    if s.validate(doc):
        return []
    return [f"linha {e.line}: {e.message}" for e in s.error_log][:20]


def validate(xml: bytes | etree._Element, name: str = NFCOM) -> None:
    found = errors(xml, name)
    if found:
        raise ApplicationError("nfcom_schema_invalid", "O XML não passou no esquema oficial: " + "; ".join(found[:3]),
                               extra={"schema_errors": found})

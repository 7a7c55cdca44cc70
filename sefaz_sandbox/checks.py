"""The checks the SEFAZ applies to what arrives, done with the same tools Agrega uses.

Schema validation uses the official XSDs shipped by nfelib (the very files the emitter
validates against before sending); the signature is verified with signxml against the
certificate embedded in ``ds:KeyInfo``, which must be issued by the sandbox's CA; the
access key's check digit and its fields are recomputed from the document.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass

from cryptography import x509
from lxml import etree

NS = "http://www.portalfiscal.inf.br/nfcom"
DS = "http://www.w3.org/2000/09/xmldsig#"
N = "{%s}" % NS

try:  # nfelib ships the official NFCom 1.00 schemas next to its bindings
    import nfelib.nfcom as _nfcom

    SCHEMA_DIR = os.path.join(os.path.dirname(_nfcom.__file__), "schemas", "v1_0")
except ImportError:  # pragma: no cover - nfelib is a dependency
    SCHEMA_DIR = ""

SCHEMAS = {
    "NFCom": "nfcom_v1.00.xsd",
    "eventoNFCom": "eventoNFCom_v1.00.xsd",
    "evCancNFCom": "evCancNFCom_v1.00.xsd",
    "consSitNFCom": "consSitNFCom_v1.00.xsd",
    "consStatServNFCom": "consStatServNFCom_v1.00.xsd",
    "retNFCom": "retNFCom_v1.00.xsd",
    "retConsSitNFCom": "retConsSitNFCom_v1.00.xsd",
    "retConsStatServNFCom": "retConsStatServNFCom_v1.00.xsd",
    "retEventoNFCom": "retEventoNFCom_v1.00.xsd",
    "nfcomProc": "procNFCom_v1.00.xsd",
    "procEventoNFCom": "procEventoNFCom_v1.00.xsd",
}

_local = threading.local()  # lxml schema objects are kept per thread


def schema(name: str) -> etree.XMLSchema:
    cache = getattr(_local, "schemas", None)
    if cache is None:
        cache = _local.schemas = {}
    if name not in cache:
        cache[name] = etree.XMLSchema(etree.parse(os.path.join(SCHEMA_DIR, SCHEMAS[name])))
    return cache[name]


def schema_errors(element: etree._Element, name: str) -> list[str]:
    """The XSD errors of ``element`` against the official schema ``name`` (empty: valid)."""
    xsd = schema(name)
    if xsd.validate(element):
        return []
    return [f"linha {e.line}: {e.message}" for e in list(xsd.error_log)[:5]]


# -- the access key ---------------------------------------------------------------------

def check_digit(key43: str) -> str:
    """Mod-11 check digit of the first 43 characters of an access key (weights 2..9 from
    the right; remainders 0 and 1 give 0). Letters of an alphanumeric CNPJ count as their
    ASCII code minus 48, as the alphanumeric-CNPJ technical note prescribes."""
    total = 0
    weight = 2
    for char in reversed(key43):
        total += (ord(char) - 48) * weight
        weight = 2 if weight == 9 else weight + 1
    remainder = total % 11
    return "0" if remainder < 2 else str(11 - remainder)


def key_from_fields(nfcom: etree._Element) -> str | None:
    """The access key the document's own fields make (cUF, AAMM of dhEmi, CNPJ, mod,
    série, número, tpEmis, nSiteAutoriz, cNF, cDV); None when a field is missing."""
    ide = nfcom.find(f"{N}infNFCom/{N}ide")
    emit = nfcom.find(f"{N}infNFCom/{N}emit")
    if ide is None or emit is None:
        return None

    def text(parent: etree._Element, tag: str) -> str:
        return (parent.findtext(N + tag) or "").strip()

    dh = text(ide, "dhEmi")
    cnpj = text(emit, "CNPJ")
    if len(dh) < 7:
        return None
    return (
        text(ide, "cUF").zfill(2) + dh[2:4] + dh[5:7] + cnpj.zfill(14) + text(ide, "mod")
        + text(ide, "serie").zfill(3) + text(ide, "nNF").zfill(9) + text(ide, "tpEmis")
        + text(ide, "nSiteAutoriz") + text(ide, "cNF").zfill(7) + text(ide, "cDV")
    )


# -- certificates and signatures --------------------------------------------------------

@dataclass
class SignatureCheck:
    ok: bool
    c_stat: str = ""
    detail: str = ""
    cert: x509.Certificate | None = None


def issued_by(cert: x509.Certificate, ca: x509.Certificate, at: dt.datetime | None = None) -> str:
    """'' when ``cert`` is issued by ``ca`` and valid at ``at``; else why not."""
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:  # signature, issuer name or algorithm mismatch
        return "não emitido pela AC do sandbox"
    at = at or dt.datetime.now(dt.timezone.utc)
    if not (cert.not_valid_before_utc <= at <= cert.not_valid_after_utc):
        return "fora do prazo de validade"
    return ""


def _verifier():
    """signxml's verifier with subtree canonicalisation done on a copy.

    lxml's ``tostring(method="c14n")`` of a non-root element whose default namespace is
    declared on itself while the document's root has another (``<Signature
    xmlns="…xmldsig#">`` inside ``<NFCom xmlns="…nfcom">``, the form the SEFAZ requires)
    writes ``xmlns=""`` on its children, so a correct signature fails. A copy of the
    element carries its in-scope namespaces and canonicalises as C14N 1.0 specifies
    (xmlsec1 agrees: tests/sefaz/test_signatures.py)."""
    import copy

    from signxml import XMLVerifier

    class Verifier(XMLVerifier):
        def _c14n(self, nodes, algorithm, inclusive_ns_prefixes=None):
            nodes = nodes if isinstance(nodes, list) else [nodes]
            nodes = [copy.deepcopy(n) if isinstance(n, etree._Element) and n.getparent() is not None else n
                     for n in nodes]
            return super()._c14n(nodes, algorithm, inclusive_ns_prefixes=inclusive_ns_prefixes)

    return Verifier()


def verify_signature(document: etree._Element, signed: etree._Element, ca: x509.Certificate) -> SignatureCheck:
    """Verify the enveloped XML-DSig of ``document`` (whose child ``signed`` carries the
    ``Id`` it must reference) with the certificate embedded in the signature."""
    from signxml import DigestAlgorithm, SignatureMethod
    from signxml.exceptions import InvalidInput, InvalidSignature
    from signxml.verifier import SignatureConfiguration

    signature = document.find(f"{{{DS}}}Signature")
    if signature is None:
        return SignatureCheck(False, "298", "documento sem assinatura")
    prefixed = [el for el in signature.iter() if isinstance(el.tag, str) and el.prefix]
    if prefixed:
        return SignatureCheck(False, "404", f"prefixo de namespace na assinatura ({prefixed[0].prefix}:)")
    pem = signature.findtext(f".//{{{DS}}}X509Certificate")
    if not pem:
        return SignatureCheck(False, "298", "assinatura sem certificado (X509Certificate)")
    try:
        import base64

        cert = x509.load_der_x509_certificate(base64.b64decode("".join(pem.split())))
    except Exception:
        return SignatureCheck(False, "290", "certificado da assinatura ilegível")
    problem = issued_by(cert, ca)
    if problem:
        code = "291" if "validade" in problem else "290"
        return SignatureCheck(False, code, f"certificado da assinatura {problem}", cert)
    reference = signature.find(f".//{{{DS}}}Reference")
    want = "#" + (signed.get("Id") or "")
    if reference is None or reference.get("URI") != want:
        return SignatureCheck(False, "298", f"a assinatura não referencia {want}", cert)
    config = SignatureConfiguration(
        location="./",
        signature_methods=frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA1, DigestAlgorithm.SHA256}),
    )
    try:
        result = _verifier().verify(etree.tostring(document), x509_cert=cert, id_attribute="Id",
                                      expect_config=config)
    except (InvalidSignature, InvalidInput) as exc:
        return SignatureCheck(False, "297", f"assinatura inválida: {exc}", cert)
    signed_id = result.signed_xml.get("Id") if result.signed_xml is not None else None
    if signed_id != signed.get("Id"):
        return SignatureCheck(False, "298", "a assinatura não cobre o elemento esperado", cert)
    return SignatureCheck(True, cert=cert)


def cnpj_base(cnpj: str | None) -> str:
    return (cnpj or "").strip().upper()[:8]

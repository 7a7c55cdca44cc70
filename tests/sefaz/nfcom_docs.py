"""Signed NFCom and cancellation events for the SEFAZ tests, before the fiscal app's
builder exists: nfelib's official sample NFCom re-keyed (emitter, série, número, date,
check digit) and signed with xmlsec1 (RSA-SHA1, C14N 1.0, enveloped, no ds: prefix, as
the MOC asks).
Kept small on purpose: the lead switches these tests to agrega/fiscal's builder."""

from __future__ import annotations

import datetime as dt
import functools
import os
import random
import subprocess
import tempfile

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree

import nfelib.nfcom
from sefaz_sandbox.checks import N, NS, check_digit

SAMPLE = os.path.join(os.path.dirname(nfelib.nfcom.__file__), "samples", "v1_0", "NFCom-nfcom.xml")
BRT = dt.timezone(dt.timedelta(hours=-3))
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
DS = "{http://www.w3.org/2000/09/xmldsig#}"


@functools.lru_cache(maxsize=16)
def _key_files(a1: bytes, password: str) -> str:
    """``key.pem,cert.pem`` of the A1 in a private temporary directory (tests only)."""
    key, cert = pkcs12.load_key_and_certificates(a1, password.encode())[:2]
    folder = tempfile.mkdtemp(prefix="nfcom-signer-")
    key_path, cert_path = os.path.join(folder, "key.pem"), os.path.join(folder, "cert.pem")
    with open(os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    return f"{key_path},{cert_path}"


def sign(root: etree._Element, signed: etree._Element, a1: bytes, password: str) -> bytes:
    """Sign with xmlsec1 (Debian's, an implementation independent of the sandbox's
    verifier) the way the SEFAZ wants it: Signature in the default namespace (no ds:
    prefix), RSA-SHA1, SHA-1, C14N 1.0, transforms enveloped + C14N, the certificate."""
    signature = etree.SubElement(root, DS + "Signature", nsmap={None: DS[1:-1]})
    info = etree.SubElement(signature, DS + "SignedInfo")
    etree.SubElement(info, DS + "CanonicalizationMethod", Algorithm=C14N)
    etree.SubElement(info, DS + "SignatureMethod", Algorithm=DS[1:-1] + "rsa-sha1")
    ref = etree.SubElement(info, DS + "Reference", URI="#" + signed.get("Id"))
    transforms = etree.SubElement(ref, DS + "Transforms")
    etree.SubElement(transforms, DS + "Transform", Algorithm=DS[1:-1] + "enveloped-signature")
    etree.SubElement(transforms, DS + "Transform", Algorithm=C14N)
    etree.SubElement(ref, DS + "DigestMethod", Algorithm=DS[1:-1] + "sha1")
    etree.SubElement(ref, DS + "DigestValue")
    etree.SubElement(signature, DS + "SignatureValue")
    etree.SubElement(etree.SubElement(signature, DS + "KeyInfo"), DS + "X509Data")
    with tempfile.TemporaryDirectory(prefix="nfcom-sign-") as folder:
        source, target = os.path.join(folder, "in.xml"), os.path.join(folder, "out.xml")
        with open(source, "wb") as fh:
            fh.write(etree.tostring(root, encoding="utf-8"))
        subprocess.run(["xmlsec1", "--sign", "--privkey-pem", _key_files(a1, password),
                        "--id-attr:Id", etree.QName(signed).localname, "--output", target, source],
                       check=True, capture_output=True)
        with open(target, "rb") as fh:
            out = etree.fromstring(fh.read())
    return etree.tostring(out, encoding="utf-8")


def sign_prefixed(root: etree._Element, signed: etree._Element, a1: bytes, password: str) -> bytes:
    """signxml's default output (``ds:`` prefix): valid XML-DSig the SEFAZ refuses (404)."""
    from signxml import XMLSigner

    class Sha1Signer(XMLSigner):  # the MOC's algorithm; signxml wants the opt-in spelled out
        def check_deprecated_methods(self) -> None:
            pass

    key, cert = pkcs12.load_key_and_certificates(a1, password.encode())[:2]
    signer = Sha1Signer(signature_algorithm="rsa-sha1", digest_algorithm="sha1", c14n_algorithm=C14N)
    result = signer.sign(root, key=key, cert=[cert], reference_uri="#" + signed.get("Id"), id_attribute="Id")
    return etree.tostring(result, encoding="utf-8")


def nfcom(*, a1: bytes, password: str, cnpj: str, serie: int = 1, nnf: int | None = None,
          when: dt.datetime | None = None, cuf: str = "43", tp_amb: str = "2", dv: str | None = None,
          sign_it: bool = True) -> tuple[str, bytes]:
    """(key, signed XML) of a valid NFCom for ``cnpj``; ``dv`` forces a check digit."""
    root = etree.parse(SAMPLE, etree.XMLParser(remove_blank_text=True)).getroot()
    inf = root.find(N + "infNFCom")
    ide = inf.find(N + "ide")
    when = (when or dt.datetime.now(BRT)).astimezone(BRT).replace(microsecond=0)
    nnf = nnf if nnf is not None else random.randint(1, 999_999_999)
    cnf = f"{random.randint(0, 9_999_999):07d}"
    values = {"cUF": cuf, "tpAmb": tp_amb, "serie": str(serie), "nNF": str(nnf), "cNF": cnf,
              "dhEmi": when.strftime("%Y-%m-%dT%H:%M:%S-03:00"), "tpEmis": "1", "nSiteAutoriz": "0"}
    for tag, value in values.items():
        ide.find(N + tag).text = value
    inf.find(f"{N}emit/{N}CNPJ").text = cnpj
    key43 = f"{cuf}{when:%y%m}{cnpj}62{serie:03d}{nnf:09d}10{cnf}"
    digit = dv if dv is not None else check_digit(key43)
    ide.find(N + "cDV").text = digit
    chave = key43 + digit
    inf.set("Id", "NFCom" + chave)
    root.find(f"{N}infNFComSupl/{N}qrCodNFCom").text = (
        f"https://dfe-portal.svrs.rs.gov.br/NFCom/qrcode?chNFCom={chave}&tpAmb={tp_amb}")
    if not sign_it:
        return chave, etree.tostring(root, encoding="utf-8")
    return chave, sign(root, inf, a1, password)


def cancel_event(*, a1: bytes, password: str, cnpj: str, chave: str, n_prot: str,
                 justification: str = "Fatura emitida em duplicidade para o cliente", seq: int = 1) -> bytes:
    """A signed ``eventoNFCom`` of cancellation (110111)."""
    root = etree.Element(N + "eventoNFCom", nsmap={None: NS}, versao="1.00")
    inf = etree.SubElement(root, N + "infEvento", Id=f"ID110111{chave}{seq:03d}")
    now = dt.datetime.now(BRT).replace(microsecond=0)
    for tag, value in (("cOrgao", chave[:2]), ("tpAmb", "2"), ("CNPJ", cnpj), ("chNFCom", chave),
                       ("dhEvento", now.strftime("%Y-%m-%dT%H:%M:%S-03:00")), ("tpEvento", "110111"),
                       ("nSeqEvento", str(seq))):
        etree.SubElement(inf, N + tag).text = value
    det = etree.SubElement(inf, N + "detEvento", versaoEvento="1.00")
    canc = etree.SubElement(det, N + "evCancNFCom")
    etree.SubElement(canc, N + "descEvento").text = "Cancelamento"
    etree.SubElement(canc, N + "nProt").text = n_prot
    etree.SubElement(canc, N + "xJust").text = justification
    return sign(root, inf, a1, password)

"""Signed NFCom and cancellation events for the SEFAZ tests, made the one way Agrega
makes them: the fiscal app's builder (``agrega.fiscal.build``) and signer
(``agrega.fiscal.signing``; the tests verify its output with xmlsec1 and the sandbox's
signxml verifier). Only the knobs a SEFAZ test needs are exposed: emitter CNPJ, série,
número, date, UF, environment, a forced check digit, unsigned output."""

from __future__ import annotations

import datetime as dt
import functools
import random
from decimal import Decimal

from lxml import etree

from agrega.fiscal import build, certificates, key as keys, signing
from agrega.fiscal.services import CANCEL_EVENT
from sefaz_sandbox.checks import N, NS

BRT = dt.timezone(dt.timedelta(hours=-3))
C14N = signing.C14N
# an address in each UF a test uses (cMunFG must be of the key's UF)
CITIES = {"43": ("RS", "4314902", "Porto Alegre", "90010000"), "41": ("PR", "4106902", "Curitiba", "80010000"),
          "35": ("SP", "3550308", "São Paulo", "01001000")}


@functools.lru_cache(maxsize=16)
def _certificate(a1: bytes, password: str) -> certificates.Certificate:
    return certificates.load(a1, password)


def sign(root: etree._Element, signed: etree._Element, a1: bytes, password: str) -> bytes:
    """``root`` signed by agrega's signer (the reference is the first element with an
    ``Id``, which is ``signed`` in every document the tests sign)."""
    assert next(el for el in root.iter() if isinstance(el.tag, str) and el.get("Id")) is signed
    return signing.sign_enveloped(root, certificate=_certificate(a1, password))


def sign_prefixed(root: etree._Element, signed: etree._Element, a1: bytes, password: str) -> bytes:
    """signxml's default output (``ds:`` prefix): valid XML-DSig the SEFAZ refuses (404).
    Deliberately not agrega's signer: this is the wrong shape the sandbox must reject."""
    from signxml import XMLSigner

    class Sha1Signer(XMLSigner):  # the MOC's algorithm; signxml wants the opt-in spelled out
        def check_deprecated_methods(self) -> None:
            pass

    cert = _certificate(a1, password)
    signer = Sha1Signer(signature_algorithm="rsa-sha1", digest_algorithm="sha1", c14n_algorithm=C14N)
    result = signer.sign(root, key=cert.key, cert=[cert.cert], reference_uri="#" + signed.get("Id"),
                         id_attribute="Id")
    return etree.tostring(result, encoding="utf-8")


def _party(name: str, document: str, cuf: str, **extra) -> build.Party:
    uf, ibge, city, cep = CITIES.get(cuf, CITIES["43"])
    return build.Party(name=name, document=document, street="Rua das Fibras", number="100", district="Centro",
                       ibge_code=ibge, city=city, zip_code=cep, uf=uf, **extra)


def nfcom(*, a1: bytes, password: str, cnpj: str, serie: int = 1, nnf: int | None = None,
          when: dt.datetime | None = None, cuf: str = "43", tp_amb: str = "2", dv: str | None = None,
          sign_it: bool = True, wrong_dv: bool = False) -> tuple[str, bytes]:
    """(key, signed XML) of a valid NFCom for ``cnpj`` (one SCM item with ICMS, one SVA
    item without); ``dv`` forces a check digit, ``wrong_dv`` one that differs from the right one."""
    when = (when or dt.datetime.now(BRT)).astimezone(BRT).replace(microsecond=0)
    nnf = nnf if nnf is not None else random.randint(1, 999_999_999)
    cnf = f"{random.randint(0, 9_999_999):07d}"
    if int(cnf) == nnf % 10_000_000:
        cnf = f"{(int(cnf) + 1) % 10_000_000:07d}"
    chave = keys.build_key(keys.KeyParts(c_uf=cuf, yymm=f"{when:%y%m}", cnpj=cnpj, serie=serie, number=nnf,
                                         tp_emis=1, n_site_autoriz=0, c_nf=cnf))
    if wrong_dv:
        dv = str((int(chave[43]) + 1) % 10)
    if dv is not None:
        chave = chave[:43] + dv
    items = [
        build.Item(code="1", description="Internet Fibra 300 Mega", kind="SCM", cclass="0100401",
                   amount=Decimal("89.90"), cfop="5307", icms_rate=Decimal("17")),
        build.Item(code="2", description="Streaming de video", kind="SVA", cclass="1100101",
                   amount=Decimal("19.90"), icms_cst="90"),
    ]
    draft = build.Draft(
        key=chave, environment=int(tp_amb), serie=serie, number=nnf, c_nf=cnf, issued_at=when,
        emitter=_party("PROVEDOR TESTE LTDA", cnpj, cuf, ie="1234567890"), crt=3,
        dest=_party("CLIENTE DE TESTE", "12345678909", cuf), subscriber_code="1", subscriber_type="3",
        contract_number="1", contract_start=when.date(), competence=when.date().replace(day=1),
        due_date=when.date() + dt.timedelta(days=10), items=items)
    root, _ = build.build(draft)
    if not sign_it:
        return chave, etree.tostring(root, encoding="utf-8")
    return chave, sign(root, root.find(N + "infNFCom"), a1, password)


def cancel_event(*, a1: bytes, password: str, cnpj: str, chave: str, n_prot: str,
                 justification: str = "Fatura emitida em duplicidade para o cliente", seq: int = 1) -> bytes:
    """A signed ``eventoNFCom`` of cancellation (110111), built as the fiscal app builds it."""
    from agrega.fiscal.models import Emitter, NFCom
    from agrega.fiscal.services import build_cancel_event

    doc = NFCom(key=chave, environment=int("2"), protocol=n_prot)
    root = build_cancel_event(doc, Emitter(cnpj=cnpj), justification, dt.datetime.now(BRT).replace(microsecond=0), seq)
    assert root.find(f"{N}infEvento/{N}tpEvento").text == CANCEL_EVENT and root.nsmap[None] == NS
    return sign(root, root.find(N + "infEvento"), a1, password)

"""Talk to the SEFAZ's NFCom web services: SOAP 1.2 over mutual TLS with the A1.

Why the two exceptions matter (issue 18, item 5): a document that **could not be
delivered** (``SefazUnavailable``: connection refused, "serviço paralisado", HTTP 503) can
be sent again later as is; a document whose answer **was lost** (``SefazOutcomeUnknown``:
sent, then a timeout or a dropped connection) may already be authorised — the caller
must ``consultar`` its key before anything is re-sent, or one título could end with two
authorised NFCom. Everything else comes back as a value with the SEFAZ's cStat.

The A1 (PKCS#12) is opened once; its key goes to a 0600 temporary PEM file, encrypted
with a random one-time passphrase, only long enough for ``ssl`` to load it, then the
file is deleted. Every call goes through Agrega's egress policy (agrega/core/egress.py).
"""

from __future__ import annotations

import base64
import gzip
import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass, field
from typing import Literal

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree

from agrega.core import egress

from . import codes
from .urls import PATHS, service_url

NS = "http://www.portalfiscal.inf.br/nfcom"
N = "{%s}" % NS
DS = "http://www.w3.org/2000/09/xmldsig#"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSDL = "http://www.portalfiscal.inf.br/nfcom/wsdl/"
WSDL_NAMES = {"recepcao": "NFComRecepcao", "consulta": "NFComConsulta",
              "evento": "NFComRecepcaoEvento", "status": "NFComStatusServico"}
# SOAP 1.2 action of each service's operation (sent as the content type's action).
ACTIONS = {"recepcao": "nfcomRecepcao", "consulta": "nfcomConsultaNF",
           "evento": "nfcomRecepcaoEvento", "status": "nfcomStatusServicoNF"}
VERSION = "1.00"
MAX_ANSWER = 4 * 1024 * 1024


class SefazError(Exception):
    """Base of the client's errors; ``code`` is stable, the message is Portuguese."""

    code = "sefaz_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        if code:
            self.code = code


class SefazConfigError(SefazError):
    """The A1 or the address is unusable (wrong password, not PKCS#12, egress refused)."""

    code = "sefaz_config"


class SefazUnavailable(SefazError):
    """Nothing was processed: the SEFAZ could not be reached or is out of service. The
    same document goes again later."""

    code = "sefaz_unavailable"


class SefazOutcomeUnknown(SefazError):
    """The request left, the answer did not come back: consult before any re-send."""

    code = "sefaz_outcome_unknown"


class SefazProtocolError(SefazError):
    """The SEFAZ refused the message itself (SOAP fault): a bug on our side, not a
    rejection of the document."""

    code = "sefaz_protocol"


@dataclass(frozen=True)
class Status:
    c_stat: str
    x_motivo: str
    in_service: bool

    @property
    def message(self) -> str:
        return codes.explain(self.c_stat, self.x_motivo)


@dataclass(frozen=True)
class Authorisation:
    """``authorised`` is True for cStat 100 and also for 204 (duplicate) when the SEFAZ's
    protocol for the key carries the same digest as the document sent (the earlier
    send got through): the returned ``proc_xml`` is then built from that protocol."""

    c_stat: str
    x_motivo: str
    chave: str
    n_prot: str | None
    proc_xml: bytes | None
    authorised: bool

    @property
    def message(self) -> str:
        return codes.explain(self.c_stat, self.x_motivo)


@dataclass(frozen=True)
class Consulta:
    """``proc_xml`` is the ``protNFCom`` the SEFAZ holds (join it to the signed NFCom with
    ``join_proc``); ``events`` are its ``procEventoNFCom`` documents."""

    c_stat: str
    x_motivo: str
    situation: Literal["authorised", "cancelled", "substituted", "not_found", "rejected"]
    n_prot: str | None
    proc_xml: bytes | None
    dig_val: str | None = None
    events: tuple[bytes, ...] = field(default=())

    @property
    def message(self) -> str:
        return codes.explain(self.c_stat, self.x_motivo)


@dataclass(frozen=True)
class Event:
    c_stat: str
    x_motivo: str
    n_prot: str | None
    proc_xml: bytes | None
    registered: bool

    @property
    def message(self) -> str:
        return codes.explain(self.c_stat, self.x_motivo)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def join_proc(signed_xml: bytes, prot_xml: bytes) -> bytes:
    """``nfcomProc``: the signed NFCom (byte-for-byte as signed) and its ``protNFCom``."""
    nfcom = etree.fromstring(signed_xml, _parser())
    prot = etree.fromstring(prot_xml, _parser())
    proc = etree.Element(N + "nfcomProc", nsmap={None: NS}, versao=VERSION)
    proc.append(nfcom)
    proc.append(prot)
    return etree.tostring(proc, xml_declaration=True, encoding="utf-8")


def _ssl_context(pkcs12_bytes: bytes, password: str, ca_bundle: str | None) -> ssl.SSLContext:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(pkcs12_bytes, password.encode("utf-8"))
    except (ValueError, TypeError):
        raise SefazConfigError("Certificado A1 ilegível ou senha incorreta.", code="a1_invalid") from None
    if key is None or cert is None:
        raise SefazConfigError("O arquivo PKCS#12 não tem chave privada e certificado.", code="a1_invalid")
    context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    passphrase = secrets.token_bytes(32)
    chain = cert.public_bytes(serialization.Encoding.PEM) + b"".join(
        c.public_bytes(serialization.Encoding.PEM) for c in (extra or []))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(passphrase)) + chain
    fd, path = tempfile.mkstemp(prefix="agrega-a1-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        context.load_cert_chain(path, password=passphrase)
    finally:
        os.unlink(path)
    return context


class SefazClient:
    """One authoriser (base ``url``: the SVRS, or the sandbox), one A1 certificate."""

    def __init__(self, *, url: str, pkcs12: bytes, password: str, timeout: float = 10.0,
                 ca_bundle: str | None = None, c_uf: str = "43", tp_amb: str = "2"):
        self.url = url.rstrip("/")
        self.c_uf = c_uf
        self.tp_amb = tp_amb
        context = _ssl_context(pkcs12, password, ca_bundle)
        self.http = httpx.Client(transport=egress.EgressTransport(verify=context),
                                 timeout=httpx.Timeout(timeout), trust_env=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "SefazClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the wire ----------------------------------------------------------------------
    def envelope(self, service: str, content: etree._Element | str) -> bytes:
        """SOAP 1.2: ``nfcomCabecMsg`` (cUF, versaoDados) and ``nfcomDadosMsg`` holding
        ``content`` (an element, or the Base64 text of recepção)."""
        ns = WSDL + WSDL_NAMES[service]
        env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"soap": SOAP12})
        header = etree.SubElement(env, f"{{{SOAP12}}}Header")
        cabec = etree.SubElement(header, f"{{{ns}}}nfcomCabecMsg", nsmap={None: ns})
        etree.SubElement(cabec, f"{{{ns}}}cUF").text = self.c_uf
        etree.SubElement(cabec, f"{{{ns}}}versaoDados").text = VERSION
        body = etree.SubElement(env, f"{{{SOAP12}}}Body")
        data = etree.SubElement(body, f"{{{ns}}}nfcomDadosMsg", nsmap={None: ns})
        if isinstance(content, str):
            data.text = content
        else:
            data.append(content)
        return etree.tostring(env, xml_declaration=True, encoding="utf-8")

    def _call(self, service: str, content: etree._Element | str, *, writes: bool) -> etree._Element:
        """POST one envelope; the ``ret*`` element of the answer. ``writes``: the call
        changes the SEFAZ's state (recepção, evento), so a lost answer is an unknown
        outcome rather than a plain failure."""
        lost = SefazOutcomeUnknown if writes else SefazUnavailable
        action = f"{WSDL}{WSDL_NAMES[service]}/{ACTIONS[service]}"
        headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
        try:
            response = self.http.post(service_url(self.url, service), content=self.envelope(service, content),
                                      headers=headers)
        except egress.EgressRefused as exc:
            raise SefazConfigError(str(exc), code="egress_refused") from exc
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise SefazUnavailable(f"SEFAZ inacessível: {exc}") from exc
        except httpx.TransportError as exc:  # sent (maybe), no answer: timeout, dropped connection
            raise lost(f"Sem resposta da SEFAZ ({type(exc).__name__}): {exc}") from exc
        if response.status_code == 503:
            raise SefazUnavailable("SEFAZ fora de serviço (HTTP 503).")
        if response.status_code >= 500 and response.status_code != 500:
            raise lost(f"SEFAZ respondeu HTTP {response.status_code}.")
        try:
            env = etree.fromstring(response.content[:MAX_ANSWER], _parser())
        except etree.XMLSyntaxError as exc:
            if 400 <= response.status_code < 500:  # refused before any processing (wrong address?)
                raise SefazProtocolError(f"A SEFAZ recusou a requisição (HTTP {response.status_code}); "
                                         "confira o endereço do serviço.") from exc
            if response.status_code >= 500:
                raise lost(f"SEFAZ respondeu HTTP {response.status_code}.") from exc
            raise lost(f"Resposta da SEFAZ ilegível: {exc}") from exc
        fault = env.find(f"{{{SOAP12}}}Body/{{{SOAP12}}}Fault")
        if fault is not None:
            reason = " ".join(fault.itertext()).strip()
            if response.status_code >= 500:
                raise lost(f"Falha no serviço da SEFAZ: {reason}")
            raise SefazProtocolError(f"A SEFAZ recusou a mensagem: {reason}")
        result = env.find(f"{{{SOAP12}}}Body/{{{WSDL}{WSDL_NAMES[service]}}}nfcomResultMsg")
        children = [c for c in (result if result is not None else []) if isinstance(c.tag, str)]
        if response.status_code != 200 or not children:
            raise lost(f"Resposta inesperada da SEFAZ (HTTP {response.status_code}).")
        return children[0]

    # -- the services ------------------------------------------------------------------
    def status_servico(self) -> Status:
        """NFComStatusServico: is the authoriser taking documents (107) or not (108/109)?"""
        message = etree.Element(N + "consStatServNFCom", nsmap={None: NS}, versao=VERSION)
        etree.SubElement(message, N + "tpAmb").text = self.tp_amb
        etree.SubElement(message, N + "xServ").text = "STATUS"
        ret = self._call("status", message, writes=False)
        c_stat = ret.findtext(N + "cStat") or ""
        return Status(c_stat, ret.findtext(N + "xMotivo") or "", c_stat == codes.IN_SERVICE)

    def autorizar(self, signed_xml: bytes) -> Authorisation:
        """NFComRecepcao (synchronous): the signed NFCom, GZip + Base64, answered with its
        protocol or its rejection."""
        nfcom = etree.fromstring(signed_xml, _parser())
        inf = nfcom.find(N + "infNFCom")
        chave = (inf.get("Id") or "")[5:] if inf is not None else ""
        payload = base64.b64encode(gzip.compress(signed_xml, mtime=0)).decode("ascii")
        ret = self._call("recepcao", payload, writes=True)
        prot = ret.find(N + "protNFCom")
        info = prot.find(N + "infProt") if prot is not None else None
        source = info if info is not None else ret
        c_stat = source.findtext(N + "cStat") or ""
        x_motivo = source.findtext(N + "xMotivo") or ""
        n_prot = info.findtext(N + "nProt") if info is not None else None
        if c_stat in codes.AUTHORISED and prot is not None:
            return Authorisation(c_stat, x_motivo, chave, n_prot, join_proc(signed_xml, etree.tostring(prot)), True)
        if c_stat == "204" and chave:
            return self._settle_duplicate(signed_xml, nfcom, chave, c_stat, x_motivo)
        return Authorisation(c_stat, x_motivo, chave, None, None, False)

    def _settle_duplicate(self, signed_xml: bytes, nfcom: etree._Element, chave: str,
                          c_stat: str, x_motivo: str) -> Authorisation:
        """204: the key is already authorised. If the SEFAZ's digest is this document's,
        the earlier send got through: take its protocol."""
        found = self.consultar(chave)
        ours = nfcom.findtext(f"{{{DS}}}Signature/{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}DigestValue")
        if found.situation == "authorised" and found.proc_xml and found.dig_val and found.dig_val == ours:
            return Authorisation(c_stat, x_motivo, chave, found.n_prot, join_proc(signed_xml, found.proc_xml), True)
        return Authorisation(c_stat, x_motivo, chave, found.n_prot, None, False)

    def consultar(self, chave: str) -> Consulta:
        """NFComConsulta: what the SEFAZ holds for a key (protocol and events)."""
        message = etree.Element(N + "consSitNFCom", nsmap={None: NS}, versao=VERSION)
        etree.SubElement(message, N + "tpAmb").text = self.tp_amb
        etree.SubElement(message, N + "xServ").text = "CONSULTAR"
        etree.SubElement(message, N + "chNFCom").text = chave
        ret = self._call("consulta", message, writes=False)
        c_stat = ret.findtext(N + "cStat") or ""
        x_motivo = ret.findtext(N + "xMotivo") or ""
        wrapper = ret.find(N + "protNFCom")
        prot_xml = n_prot = dig_val = None
        if wrapper is not None:
            info = wrapper.find(N + "infProt")
            n_prot = info.findtext(N + "nProt") if info is not None else None
            dig_val = info.findtext(N + "digVal") if info is not None else None
            prot = etree.Element(N + "protNFCom", nsmap={None: NS}, versao=wrapper.get("versao", VERSION))
            for child in list(wrapper):
                prot.append(child)
            prot_xml = etree.tostring(prot)
        events = tuple(etree.tostring(next(iter(w))) for w in ret.findall(N + "procEventoNFCom") if len(w))
        situation = {"100": "authorised", "150": "authorised", "101": "cancelled", "102": "substituted",
                     "217": "not_found"}.get(c_stat, "rejected")
        return Consulta(c_stat, x_motivo, situation, n_prot, prot_xml, dig_val, events)  # type: ignore[arg-type]

    def registrar_evento(self, signed_event_xml: bytes) -> Event:
        """NFComRecepcaoEvento: a signed ``eventoNFCom`` (cancelamento: 110111)."""
        event = etree.fromstring(signed_event_xml, _parser())
        ret = self._call("evento", event, writes=True)
        info = ret.find(N + "infEvento")
        c_stat = info.findtext(N + "cStat") if info is not None else ""
        x_motivo = info.findtext(N + "xMotivo") if info is not None else ""
        n_prot = info.findtext(N + "nProt") if info is not None else None
        registered = (c_stat or "") in codes.EVENT_REGISTERED
        proc_xml = None
        if registered:
            proc = etree.Element(N + "procEventoNFCom", nsmap={None: NS}, versao=VERSION)
            proc.append(etree.fromstring(signed_event_xml, _parser()))
            proc.append(ret)
            proc_xml = etree.tostring(proc, xml_declaration=True, encoding="utf-8")
        return Event(c_stat or "", x_motivo or "", n_prot, proc_xml, registered)


__all__ = [
    "Authorisation", "Consulta", "Event", "PATHS", "SefazClient", "SefazConfigError", "SefazError",
    "SefazOutcomeUnknown", "SefazProtocolError", "SefazUnavailable", "Status", "join_proc",
]

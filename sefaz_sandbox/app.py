"""The four NFCom web services, as the SEFAZ (SVRS) answers them in homologação.

Each request is a SOAP 1.2 envelope whose body holds ``nfcomDadosMsg`` in the service's
WSDL namespace: for NFComRecepcao the NFCom GZip-compressed and Base64-encoded (the
service is synchronous: the answer carries the protocol), for NFComConsulta,
NFComRecepcaoEvento and NFComStatusServico the XML message itself. The answer is
``nfcomResultMsg`` with ``retNFCom``, ``retConsSitNFCom``, ``retEventoNFCom`` or
``retConsStatServNFCom``. ``SefazApp.handle`` turns one request into one answer; the HTTP
and TLS part is in server.py.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import time
import zlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from lxml import etree

from . import checks
from .checks import DS, NS, N
from .faults import Faults
from .store import Store

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSDL = "http://www.portalfiscal.inf.br/nfcom/wsdl/"
VER_APLIC = "SVRS-SBX-AGREGA"
TP_AMB = "2"  # the sandbox is homologação only
EVENT_CANCEL = "110111"
BRT = dt.timezone(dt.timedelta(hours=-3))
MAX_BODY = 2 * 1024 * 1024

# Path (lower case) -> service. The SVRS publishes /WS/<Service>/<Service>.asmx.
SERVICES = {
    "/ws/nfcomrecepcao/nfcomrecepcao.asmx": "recepcao",
    "/ws/nfcomconsulta/nfcomconsulta.asmx": "consulta",
    "/ws/nfcomrecepcaoevento/nfcomrecepcaoevento.asmx": "evento",
    "/ws/nfcomstatusservico/nfcomstatusservico.asmx": "status",
}
WSDL_NAMES = {
    "recepcao": "NFComRecepcao",
    "consulta": "NFComConsulta",
    "evento": "NFComRecepcaoEvento",
    "status": "NFComStatusServico",
}

# xMotivo of each cStat the sandbox answers: codes and wording of the MOC NFCom 1.00a
# (Visão Geral §4–6, Anexo I rules G01–G148), checked on 2026-12-07.
MOTIVOS = {
    "100": "Autorizado o uso da NFCom",
    "101": "Cancelamento de NFCom homologado",
    "102": "Substituição da NFCom homologado",
    "107": "Serviço em Operação",
    "108": "Serviço Paralisado Momentaneamente (curto prazo)",
    "109": "Serviço Paralisado sem Previsão",
    "135": "Evento registrado e vinculado a NFCom",
    "204": "Rejeição: Duplicidade de NFCom",
    "208": "Rejeição: NFCom a ser substituída inexistente",
    "210": "Rejeição: NFCom a ser substituída não pode estar cancelada",
    "211": "Rejeição: NFCom a ser substituída não pode ter sido substituída anteriormente",
    "212": "Rejeição: Data/hora de emissão NFCom posterior a data/hora de recebimento",
    "213": "Rejeição: CNPJ-Base do Emitente difere do CNPJ-Base do Certificado Digital",
    "215": "Rejeição: Falha no schema XML",
    "217": "Rejeição: NFCom não consta na base de dados da SEFAZ",
    "218": "Rejeição: NFCom já está cancelada na base de dados da SEFAZ",
    "219": "Rejeição: NFCom a ser substituída deve ser do tipo Normal ou Substituição",
    "220": "Rejeição: Vedado cancelamento de NFCom com data/hora de autorização anterior ao prazo permitido",
    "221": "Rejeição: CNPJ do emitente da NFCom substituta deve ser igual ao informado na NFCom substituída",
    "222": "Rejeição: Protocolo de Autorização de Uso difere do cadastrado",
    "224": "Rejeição: NFCom já está substituída na base de dados da SEFAZ",
    "227": "Rejeição: Erro na composição do Campo ID",
    "228": "Rejeição: NFCom com Data-Hora de Emissão muito atrasada",
    "236": "Rejeição: Chave de Acesso inválida",
    "244": "Rejeição: Falha na descompactação da área de dados",
    "252": "Rejeição: Ambiente informado diverge do Ambiente de recebimento",
    "253": "Rejeição: Digito Verificador da chave de acesso composta inválido",
    "280": "Rejeição: Certificado Transmissor inválido",
    "290": "Rejeição: Certificado Assinatura inválido",
    "291": "Rejeição: Certificado Assinatura Data Validade",
    "297": "Rejeição: Assinatura difere do calculado",
    "298": "Rejeição: Assinatura difere do padrão do Sistema",
    "404": "Rejeição: Uso de prefixo de namespace não permitido",
    "411": "Rejeição: Grupo NFCom de Substituição deve ser informado para a NFCom de Substituição",
    "412": "Rejeição: Grupo NFCom de Substituição não deve ser informado para NFCom que não seja de Substituição",
    "413": "Rejeição: NFCom ou NF substituída com data de emissão anterior a 5 anos da data atual",
    "414": "Rejeição: Chave de acesso da NFCom substituída inválida",
    "484": "Rejeição: Destinatário da NFCOM substituição deve ser igual a NFCOM original",
    "524": "Rejeição: NFCom de substituição não pode ser cancelada",
    "527": "Rejeição: NFCom substituída com tipo de faturamento diferente da NFCom de Substituição",
    "539": "Rejeição: Duplicidade de NFCom, com diferença na Chave de Acesso",
    "628": "Rejeição: Erro Atributo ID do evento não corresponde à concatenação dos campos (“ID” + tpEvento + chNFCom + nSeqEvento)",
    "629": "Rejeição: O tpEvento informado inválido",
    "630": "Rejeição: Falha no Schema XML específico para o evento",
    "631": "Rejeição: Duplicidade de evento",
    "999": "Rejeição: Erro não catalogado",
}
EVENT_SUBSTITUTED = "240140"  # Fisco's marking event on the original (MOC Visão Geral §3.6.1)
SUBSTITUTION_YEARS = 5


def motivo(c_stat: str, extra: str = "") -> str:
    text = MOTIVOS.get(c_stat, "Rejeição: Erro não catalogado")
    return (text + (f" [{extra}]" if extra else ""))[:255]


def now_brt() -> dt.datetime:
    return dt.datetime.now(BRT).replace(microsecond=0)


def stamp(moment: dt.datetime) -> str:
    """TDateTimeUTC as the schema wants it (AAAA-MM-DDThh:mm:ss-03:00)."""
    return moment.astimezone(BRT).strftime("%Y-%m-%dT%H:%M:%S-03:00")


def cancel_deadline(authorised_at: str, hours: int) -> dt.datetime:
    """Ajuste SINIEF 7/2022, cláusula décima quinta: the NFCom may be cancelled up to 120
    hours after the last day of the month of its authorisation (local time)."""
    moment = dt.datetime.fromisoformat(authorised_at).astimezone(BRT)
    next_month = (moment.replace(day=28) + dt.timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0)
    return next_month + dt.timedelta(hours=hours)


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/soap+xml; charset=utf-8"
    drop: bool = False  # close the connection without writing anything
    hang: float = 0.0  # seconds to wait before answering (timeouts)


@dataclass
class Options:
    max_age_days: int = 30  # dhEmi older than this: 228
    future_minutes: int = 5  # dhEmi later than now + this: 212
    cancel_hours: int = 120  # after the end of the authorisation's month: 501


class Rejection(Exception):
    def __init__(self, c_stat: str, extra: str = ""):
        super().__init__(c_stat)
        self.c_stat, self.extra = c_stat, extra


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, N + tag, **attrs)
    if text is not None:
        element.text = text
    return element


def envelope(service: str, payload: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"soap": SOAP12})
    body = etree.SubElement(env, f"{{{SOAP12}}}Body")
    result = etree.SubElement(body, f"{{{WSDL}{WSDL_NAMES[service]}}}nfcomResultMsg",
                              nsmap={None: WSDL + WSDL_NAMES[service]})
    result.append(payload)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def soap_fault(reason: str, code: str = "Sender") -> Answer:
    env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"soap": SOAP12})
    body = etree.SubElement(env, f"{{{SOAP12}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP12}}}Fault")
    etree.SubElement(etree.SubElement(fault, f"{{{SOAP12}}}Code"), f"{{{SOAP12}}}Value").text = f"soap:{code}"
    text = etree.SubElement(etree.SubElement(fault, f"{{{SOAP12}}}Reason"), f"{{{SOAP12}}}Text")
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "pt-BR")
    text.text = reason
    return Answer(500 if code == "Receiver" else 400, etree.tostring(env, xml_declaration=True, encoding="utf-8"))


MAX_XML = 8 * 1024 * 1024


def gunzip(data: bytes, limit: int = MAX_XML) -> bytes:
    """GZip-decompress at most ``limit`` bytes (a small body must not become gigabytes)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    raw = inflater.decompress(data, limit)
    if inflater.unconsumed_tail or not inflater.eof:
        raise ValueError("conteúdo compactado grande demais ou truncado")
    return raw


def parse_xml(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             remove_blank_text=False)
    return etree.fromstring(data, parser)


class SefazApp:
    def __init__(self, store: Store, faults: Faults, ca: x509.Certificate, options: Options | None = None):
        self.store = store
        self.faults = faults
        self.ca = ca
        self.options = options or Options()

    # -- entry point ---------------------------------------------------------------------
    def handle(self, path: str, body: bytes, client_cert: x509.Certificate | None) -> Answer:
        """One SOAP request → one answer (or a drop/hang decided by the faults)."""
        service = SERVICES.get(path.split("?", 1)[0].lower())
        if service is None:
            return Answer(404, b"Servico nao encontrado.\n", "text/plain; charset=utf-8")
        delay = self.faults.latency()
        if delay:
            time.sleep(delay)
        status = self.faults.http_status(service)
        if status:
            return Answer(status, b"Servico indisponivel.\n", "text/plain; charset=utf-8")
        fate = self.faults.fate(service)
        if fate == "timeout":
            return Answer(504, b"", hang=self.faults.settings.hang_seconds)
        try:
            message, cuf = self._message(service, body)
        except Rejection as exc:
            return soap_fault(f"Mensagem SOAP inválida: {exc.extra}")
        handler = getattr(self, "_" + service)
        payload = handler(message, cuf, client_cert, forced=fate == "reject")
        answer = Answer(200, envelope(service, payload))
        if fate == "lost":
            answer.drop = True
        return answer

    def _message(self, service: str, body: bytes) -> tuple[etree._Element | bytes, str]:
        """The content of ``nfcomDadosMsg`` (an element, or the raw bytes of recepção) and
        the cUF of ``nfcomCabecMsg`` (43 when absent)."""
        try:
            env = parse_xml(body)
        except etree.XMLSyntaxError as exc:
            raise Rejection("215", f"XML malformado: {exc}") from None
        if env.tag != f"{{{SOAP12}}}Envelope":
            raise Rejection("215", "não é um envelope SOAP 1.2")
        ns = WSDL + WSDL_NAMES[service]
        data = env.find(f"{{{SOAP12}}}Body/{{{ns}}}nfcomDadosMsg")
        if data is None:
            raise Rejection("215", f"Body sem nfcomDadosMsg ({ns})")
        cuf = (env.findtext(f"{{{SOAP12}}}Header/{{{ns}}}nfcomCabecMsg/{{{ns}}}cUF") or "43").strip()
        if service == "recepcao":
            return (data.text or "").encode("ascii", "replace"), cuf
        children = [c for c in data if isinstance(c.tag, str)]
        if len(children) != 1:
            raise Rejection("215", "nfcomDadosMsg deve conter um elemento")
        # A standalone copy: the envelope's namespace declarations (soap:, the WSDL's) are
        # in scope inside nfcomDadosMsg and would enter the inclusive C14N of a signed
        # event, which was signed outside any envelope.
        message = parse_xml(etree.tostring(children[0]))
        etree.cleanup_namespaces(message)
        return message, cuf

    # -- NFComRecepcao -------------------------------------------------------------------
    def _ret_nfcom(self, cuf: str, c_stat: str, extra: str = "", prot: etree._Element | None = None) -> etree._Element:
        ret = etree.Element(N + "retNFCom", nsmap={None: NS}, versao="1.00")
        _el(ret, "tpAmb", TP_AMB)
        _el(ret, "cUF", cuf)
        _el(ret, "verAplic", VER_APLIC)
        _el(ret, "cStat", c_stat)
        _el(ret, "xMotivo", motivo(c_stat, extra))
        if prot is not None:
            ret.append(prot)
        return ret

    def _prot(self, chave: str, c_stat: str, extra: str = "", *, n_prot: str | None = None,
              dig_val: str | None = None, received: dt.datetime) -> etree._Element:
        prot = etree.Element(N + "protNFCom", nsmap={None: NS}, versao="1.00")
        inf = _el(prot, "infProt", **({"Id": "ID" + n_prot} if n_prot else {}))
        _el(inf, "tpAmb", TP_AMB)
        _el(inf, "verAplic", VER_APLIC)
        _el(inf, "chNFCom", chave)
        _el(inf, "dhRecbto", stamp(received))
        if n_prot:
            _el(inf, "nProt", n_prot)
        if dig_val:
            _el(inf, "digVal", dig_val)
        _el(inf, "cStat", c_stat)
        _el(inf, "xMotivo", motivo(c_stat, extra))
        return prot

    def _recepcao(self, data: bytes, cuf: str, client_cert, *, forced: bool) -> etree._Element:
        received = now_brt()
        try:
            raw = gunzip(base64.b64decode(b"".join(data.split()), validate=True))
        except (binascii.Error, OSError, EOFError, zlib.error, ValueError):
            self.store.note("recepcao", None, "244")
            return self._ret_nfcom(cuf, "244")
        try:
            nfcom = parse_xml(raw)
        except etree.XMLSyntaxError as exc:
            self.store.note("recepcao", None, "215")
            return self._ret_nfcom(cuf, "215", f"XML malformado: {exc}"[:200])
        chave = None
        try:
            chave = self._check_nfcom(nfcom, client_cert, received, forced=forced)
        except Rejection as exc:
            inf = nfcom.find(N + "infNFCom")
            chave = chave or ((inf.get("Id") or "")[5:] if inf is not None else "")
            self.store.note("recepcao", chave or None, exc.c_stat)
            prot = None
            if len(chave) == 44 and exc.c_stat not in ("215",):
                prot = self._prot(chave, exc.c_stat, exc.extra, received=received)
            return self._ret_nfcom(cuf, exc.c_stat, exc.extra, prot)
        ide = nfcom.find(f"{N}infNFCom/{N}ide")
        n_prot = self.store.protocol(chave[:2], str(received.year))
        dig_val = nfcom.findtext(f"{{{DS}}}Signature/{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}DigestValue")
        prot = self._prot(chave, "100", n_prot=n_prot, dig_val=dig_val, received=received)
        inf = nfcom.find(N + "infNFCom")
        dest = inf.find(N + "dest")
        record = {
            "chave": chave, "cnpj": chave[6:20], "serie": ide.findtext(N + "serie"),
            "nnf": ide.findtext(N + "nNF"), "n_prot": n_prot, "dh_recbto": stamp(received),
            "dig_val": dig_val, "status": "authorised", "fin": ide.findtext(N + "finNFCom"),
            "tp_fat": ide.findtext(N + "tpFat"), "dh_emi": ide.findtext(N + "dhEmi"),
            "dest": (dest.findtext(N + "CNPJ") or dest.findtext(N + "CPF") or dest.findtext(N + "idOutros") or "")
            if dest is not None else "",
            "xml": etree.tostring(nfcom, encoding="unicode"),
            "prot": etree.tostring(prot, encoding="unicode"), "events": [],
        }
        with self.store.lock:  # duplicate check and insert as one step
            again = self._duplicate(chave, record)
            if again is None and record["fin"] == "3":
                try:  # again under the lock: two substitutes of one original cannot both pass
                    self._check_substitution(inf, record, received)
                except Rejection as exc:
                    again = exc
            if again is not None:
                self.store.note("recepcao", chave, again.c_stat)
                return self._ret_nfcom(chave[:2], again.c_stat, again.extra,
                                       self._prot(chave, again.c_stat, again.extra, received=received))
            self.store.add(record)
            if record["fin"] == "3":
                self._mark_substituted(inf.findtext(f"{N}gSub/{N}chNFCom"), chave, received)
        self.store.note("recepcao", chave, "100")
        return self._ret_nfcom(chave[:2], "100", prot=prot)

    def _duplicate(self, chave: str, record: dict[str, Any]) -> Rejection | None:
        existing = self.store.get(chave)
        if existing is not None:
            return Rejection("204", f"nProt:{existing['n_prot']}][dhAut:{existing['dh_recbto']}")
        other = self.store.by_number(record["cnpj"], record["serie"], record["nnf"])
        if other is not None:
            return Rejection("539", f"chNFCom:{other['chave']}][nProt:{other['n_prot']}")
        return None

    def _check_substitution(self, inf: etree._Element, record: dict[str, Any], received: dt.datetime) -> None:
        """MOC Anexo I, rules G47–G55 for an NFCom de substituição (finNFCom 3) that names
        the key of the NFCom it replaces (gSub/chNFCom; gNF — paper models 21/22 — is not
        accepted by the sandbox)."""
        original_key = (inf.findtext(f"{N}gSub/{N}chNFCom") or "").strip()
        if not original_key:
            raise Rejection("414", "Motivo: a substituição de NF em papel (gNF) não é aceita pelo sandbox")
        if (len(original_key) != 44 or original_key[20:22] != "62"
                or checks.check_digit(original_key[:43]) != original_key[43:]):
            raise Rejection("414", "Motivo: DV, modelo ou tamanho da chave")
        original = self.store.get(original_key)
        if original is None:
            other = self.store.by_number(original_key[6:20], original_key[22:25], original_key[25:34])
            if other is not None:
                raise Rejection("206", f"chNFCom:{other['chave']}][nProt:{other['n_prot']}")
            raise Rejection("208")
        if original["status"] == "cancelled":
            raise Rejection("210")
        if original["status"] == "substituted":
            raise Rejection("211")
        if (original.get("fin") or "0") not in ("0", "3"):
            raise Rejection("219")
        if original["cnpj"] != record["cnpj"]:
            raise Rejection("221")
        if original.get("dest", record["dest"]) != record["dest"]:
            raise Rejection("484")
        if (original.get("tp_fat") or "0") != record["tp_fat"]:
            raise Rejection("527")
        issued = original.get("dh_emi") or original["dh_recbto"]
        if dt.datetime.fromisoformat(issued) < received - dt.timedelta(days=365 * SUBSTITUTION_YEARS):
            raise Rejection("413")

    def _mark_substituted(self, original_key: str, substitute_key: str, received: dt.datetime) -> None:
        """The Fisco's marking event 240140 ('Autorizada NFCom de Substituição') on the
        original, which is now substituted (its consulta answers 102)."""
        n_prot = self.store.protocol(original_key[:2], str(received.year))
        event = etree.Element(N + "eventoFisco", nsmap={None: NS})
        for tag, text in (("tpEvento", EVENT_SUBSTITUTED), ("chNFCom", original_key),
                          ("chNFComSubstituta", substitute_key), ("nProt", n_prot), ("dhRegEvento", stamp(received))):
            _el(event, tag, text)
        self.store.add_event(original_key, {
            "tp_evento": EVENT_SUBSTITUTED, "n_seq": "1", "n_prot": n_prot, "dh_reg": stamp(received),
            "substitute": substitute_key, "xml": etree.tostring(event, encoding="unicode"), "fisco": True,
        }, status="substituted")

    def _check_nfcom(self, nfcom: etree._Element, client_cert, received: dt.datetime, *, forced: bool) -> str:
        """The SEFAZ's validations, in its order; returns the key or raises Rejection."""
        if nfcom.tag != N + "NFCom":
            raise Rejection("215", f"elemento raiz {nfcom.tag}")
        errors = checks.schema_errors(nfcom, "NFCom")
        if errors:
            raise Rejection("215", "; ".join(errors)[:200])
        inf = nfcom.find(N + "infNFCom")
        ident = inf.get("Id") or ""
        chave = ident[5:]
        if forced:
            raise Rejection(self.faults.settings.reject_code, "rejeição forçada pelo sandbox")
        if client_cert is None or checks.issued_by(client_cert, self.ca):
            raise Rejection("280")
        if not ident.startswith("NFCom") or checks.key_from_fields(nfcom) != chave:
            raise Rejection("227")
        if checks.check_digit(chave[:43]) != chave[43:]:
            raise Rejection("253")
        signature = checks.verify_signature(nfcom, inf, self.ca)
        if not signature.ok:
            raise Rejection(signature.c_stat, signature.detail[:200])
        from .pki import cnpj_of

        emit_cnpj = inf.findtext(f"{N}emit/{N}CNPJ") or ""
        if checks.cnpj_base(cnpj_of(client_cert)) != checks.cnpj_base(emit_cnpj):
            raise Rejection("213")
        if inf.findtext(f"{N}ide/{N}tpAmb") != TP_AMB:
            raise Rejection("252")
        emitted = dt.datetime.fromisoformat(inf.findtext(f"{N}ide/{N}dhEmi"))
        if emitted > received + dt.timedelta(minutes=self.options.future_minutes):
            raise Rejection("212")
        if emitted < received - dt.timedelta(days=self.options.max_age_days):
            raise Rejection("228")
        fin = inf.findtext(f"{N}ide/{N}finNFCom")
        has_sub = inf.find(N + "gSub") is not None
        if fin == "3" and not has_sub:
            raise Rejection("411")
        if fin != "3" and has_sub:
            raise Rejection("412")
        if fin == "3":
            ide = inf.find(N + "ide")
            dest = inf.find(N + "dest")
            self._check_substitution(inf, {
                "cnpj": chave[6:20], "tp_fat": ide.findtext(N + "tpFat"),
                "dest": (dest.findtext(N + "CNPJ") or dest.findtext(N + "CPF") or dest.findtext(N + "idOutros") or "")
                if dest is not None else ""}, received)
        return chave

    # -- NFComConsulta -------------------------------------------------------------------
    def _consulta(self, message: etree._Element, cuf: str, client_cert, *, forced: bool) -> etree._Element:
        ret = etree.Element(N + "retConsSitNFCom", nsmap={None: NS}, versao="1.00")
        chave = (message.findtext(N + "chNFCom") or "").strip()

        def finish(c_stat: str, extra: str = "", record: dict[str, Any] | None = None) -> etree._Element:
            _el(ret, "tpAmb", TP_AMB)
            _el(ret, "verAplic", VER_APLIC)
            _el(ret, "cStat", c_stat)
            _el(ret, "xMotivo", motivo(c_stat, extra))
            _el(ret, "cUF", chave[:2] if len(chave) == 44 and chave[:2].isdigit() else cuf)
            if record is not None:
                ret.append(parse_xml(record["prot"].encode()))
                for event in record.get("events", []):
                    if event.get("fisco"):
                        continue  # the marking event is shown by the cStat (102), not as an emitter's event
                    wrapper = _el(ret, "procEventoNFCom", versao="1.00")
                    wrapper.append(parse_xml(event["xml"].encode()))
            self.store.note("consulta", chave or None, c_stat)
            return ret

        if message.tag != N + "consSitNFCom" or checks.schema_errors(message, "consSitNFCom"):
            return finish("215")
        if client_cert is None or checks.issued_by(client_cert, self.ca):
            return finish("280")
        if message.findtext(N + "tpAmb") != TP_AMB:
            return finish("252")
        if checks.check_digit(chave[:43]) != chave[43:]:
            return finish("236")
        record = self.store.get(chave)
        if record is None:
            return finish("217")
        c_stat = {"cancelled": "101", "substituted": "102"}.get(record["status"], "100")
        return finish(c_stat, record=record)

    # -- NFComRecepcaoEvento -------------------------------------------------------------
    def _evento(self, event: etree._Element, cuf: str, client_cert, *, forced: bool) -> etree._Element:
        received = now_brt()
        inf = event.find(N + "infEvento")
        chave = (inf.findtext(N + "chNFCom") if inf is not None else "") or ""
        tp_evento = (inf.findtext(N + "tpEvento") if inf is not None else "") or ""
        n_seq = (inf.findtext(N + "nSeqEvento") if inf is not None else "") or ""

        def ret(c_stat: str, extra: str = "", n_prot: str | None = None) -> etree._Element:
            root = etree.Element(N + "retEventoNFCom", nsmap={None: NS}, versao="1.00")
            info = _el(root, "infEvento", **({"Id": "ID" + n_prot} if n_prot else {}))
            _el(info, "tpAmb", TP_AMB)
            _el(info, "verAplic", VER_APLIC)
            _el(info, "cOrgao", chave[:2] if chave[:2].isdigit() else cuf)
            _el(info, "cStat", c_stat)
            _el(info, "xMotivo", motivo(c_stat, extra))
            if len(chave) == 44:
                _el(info, "chNFCom", chave)
            if tp_evento and n_prot:
                _el(info, "tpEvento", tp_evento)
                _el(info, "xEvento", "Cancelamento")
                _el(info, "nSeqEvento", n_seq)
                _el(info, "dhRegEvento", stamp(received))
                _el(info, "nProt", n_prot)
            self.store.note("evento", chave or None, c_stat)
            return root

        if event.tag != N + "eventoNFCom" or checks.schema_errors(event, "eventoNFCom"):
            return ret("215", "; ".join(checks.schema_errors(event, "eventoNFCom"))[:200]
                       if event.tag == N + "eventoNFCom" else "")
        detail = inf.find(f"{N}detEvento/*")
        if tp_evento != EVENT_CANCEL or detail is None or detail.tag != N + "evCancNFCom":
            return ret("629", "o sandbox registra apenas o evento de cancelamento (110111)")
        if checks.schema_errors(detail, "evCancNFCom"):
            return ret("630", "; ".join(checks.schema_errors(detail, "evCancNFCom"))[:200])
        if forced:
            return ret(self.faults.settings.reject_code, "rejeição forçada pelo sandbox")
        if client_cert is None or checks.issued_by(client_cert, self.ca):
            return ret("280")
        if inf.get("Id") != f"ID{tp_evento}{chave}{n_seq.zfill(3)}":
            return ret("628")
        signature = checks.verify_signature(event, inf, self.ca)
        if not signature.ok:
            return ret(signature.c_stat, signature.detail[:200])
        from .pki import cnpj_of

        if checks.cnpj_base(cnpj_of(client_cert)) != checks.cnpj_base(inf.findtext(N + "CNPJ")):
            return ret("213")
        if inf.findtext(N + "tpAmb") != TP_AMB:
            return ret("252")
        with self.store.lock:
            record = self.store.get(chave)
            if record is None:
                return ret("217")
            if record["status"] == "cancelled":
                return ret("218")
            if record["status"] == "substituted":
                return ret("224")
            if any(e["tp_evento"] == tp_evento and e["n_seq"] == n_seq for e in record.get("events", [])):
                return ret("631")
            if record.get("fin") == "3":
                return ret("524")
            if detail.findtext(N + "nProt") != record["n_prot"]:
                return ret("222")
            if received >= cancel_deadline(record["dh_recbto"], self.options.cancel_hours):
                return ret("220")
            n_prot = self.store.protocol(chave[:2], str(received.year))
            answer = ret("135", n_prot=n_prot)
            proc = etree.Element(N + "procEventoNFCom", nsmap={None: NS}, versao="1.00")
            proc.append(parse_xml(etree.tostring(event)))
            proc.append(parse_xml(etree.tostring(answer)))
            self.store.add_event(chave, {
                "tp_evento": tp_evento, "n_seq": n_seq, "n_prot": n_prot,
                "dh_reg": stamp(received), "xml": etree.tostring(proc, encoding="unicode"),
            }, status="cancelled")
        return answer

    # -- NFComStatusServico --------------------------------------------------------------
    def _status(self, message: etree._Element, cuf: str, client_cert, *, forced: bool) -> etree._Element:
        ret = etree.Element(N + "retConsStatServNFCom", nsmap={None: NS}, versao="1.00")
        c_stat = "107"
        if message.tag != N + "consStatServNFCom" or checks.schema_errors(message, "consStatServNFCom"):
            c_stat = "215"
        elif message.findtext(N + "tpAmb") != TP_AMB:
            c_stat = "252"
        elif self.faults.paralisado():
            c_stat = self.faults.paralisado()
        _el(ret, "tpAmb", TP_AMB)
        _el(ret, "verAplic", VER_APLIC)
        _el(ret, "cStat", c_stat)
        _el(ret, "xMotivo", motivo(c_stat))
        _el(ret, "cUF", cuf if len(cuf) == 2 and cuf.isdigit() else "43")
        _el(ret, "dhRecbto", stamp(now_brt()))
        _el(ret, "tMed", "1")
        self.store.note("status", None, c_stat)
        return ret

"""The NFCom XML (layout v1.00) built with lxml from plain data (``Draft``), so the same
code serves the task, the tests and the bench without the database.

Why lxml and not nfelib's xsdata dataclasses: the bindings are used to read
(tests parse our output with them), but serialising through xsdata costs several times
the lxml build for the 100k-document bench and hides the element order the MOC fixes;
the XSD that nfelib ships is the judge of every document either way (xsd.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from lxml import etree

NS = "http://www.portalfiscal.inf.br/nfcom"
VERSION = "1.00"
QR_BASE = "https://dfe-portal.svrs.rs.gov.br/NFCom/qrcode"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT, ROUND_HALF_EVEN))


def pct(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT if Decimal(value) == Decimal(value).quantize(CENT) else Decimal("0.0001")))


def tax(base: Decimal, rate: Decimal) -> Decimal:
    return (Decimal(base) * Decimal(rate) / 100).quantize(CENT, ROUND_HALF_EVEN)


@dataclass
class Item:
    code: str
    description: str
    kind: str  # SCM / SVA / OUTRO
    cclass: str
    amount: Decimal
    cfop: str = ""
    icms_cst: str = "00"
    icms_rate: Decimal = ZERO
    pis_rate: Decimal | None = None
    cofins_rate: Decimal | None = None
    ibscbs_cst: str = "000"
    cclass_trib: str = "000001"
    cbs_rate: Decimal | None = None
    ibs_uf_rate: Decimal | None = None
    ibs_mun_rate: Decimal | None = None


@dataclass
class Party:
    name: str
    document: str  # CPF (11) or CNPJ (14)
    street: str
    number: str
    district: str
    ibge_code: str
    city: str
    zip_code: str
    uf: str
    complement: str = ""
    phone: str = ""
    email: str = ""
    ie: str = ""
    ind_ie: str = "9"


@dataclass
class Draft:
    key: str
    environment: int
    serie: int
    number: int
    c_nf: str
    issued_at: datetime
    emitter: Party
    crt: int
    dest: Party
    subscriber_code: str
    subscriber_type: str
    contract_number: str
    contract_start: date | None
    competence: date
    due_date: date
    items: list[Item]
    barcode: str = ""
    pix_url: str = ""
    tp_emis: int = 1
    n_site_autoriz: int = 0
    service_type: str = "4"  # tpServUtil 4: provimento de acesso à internet
    ver_proc: str = "Agrega 1.0"
    extra_info: list[str] = field(default_factory=list)
    purpose: int = 0  # finNFCom: 0 normal, 3 substituição (with substitutes_key and substitution_reason)
    substitutes_key: str = ""
    substitution_reason: str = ""


@dataclass
class Totals:
    products: Decimal = ZERO
    icms_base: Decimal = ZERO
    icms: Decimal = ZERO
    pis: Decimal = ZERO
    cofins: Decimal = ZERO
    ibscbs_base: Decimal = ZERO
    ibs_uf: Decimal = ZERO
    ibs_mun: Decimal = ZERO
    cbs: Decimal = ZERO
    has_ibscbs: bool = False
    by_kind: dict = field(default_factory=dict)

    @property
    def ibs(self) -> Decimal:
        return self.ibs_uf + self.ibs_mun


class _Writer:
    """The document written as text in document order and parsed once by lxml — several
    times cheaper than an lxml SubElement per field (bench/nfcom_emit measures the
    pipeline). ``_sub`` returns a handle (writer, depth); adding under a handle closes
    whatever was opened deeper, so build() reads like a tree and writes like a stream."""

    __slots__ = ("out", "stack")

    def __init__(self):
        self.out: list = []
        self.stack: list = []

    def element(self) -> etree._Element:
        while self.stack:
            self.out.append(f"</{self.stack.pop()}>")
        return etree.fromstring("".join(self.out).encode("utf-8"))  # lxml's default parser is per thread


def _escape(value) -> str:
    text = str(value)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    return text


def _root(tag: str, attrs: dict) -> tuple:
    return _sub((_Writer(), 0), tag, attrs=attrs)


def _sub(parent: tuple, tag: str, text=None, attrs: dict | None = None) -> tuple:
    w, depth = parent
    stack, out = w.stack, w.out
    while len(stack) > depth:
        out.append(f"</{stack.pop()}>")
    head = tag + "".join(f' {k}="{_escape(v)}"' for k, v in attrs.items()) if attrs else tag
    if text is not None:
        out.append(f"<{head}>{_escape(text)}</{tag}>")
        return (w, -1)  # a leaf: nothing goes under it
    out.append(f"<{head}>")
    stack.append(tag)
    return (w, len(stack))


def _clip(text: str, size: int) -> str:
    return " ".join(str(text).split())[:size] or "-"


def qr_url(key: str, environment: int) -> str:
    return f"{QR_BASE}?chNFCom={key}&tpAmb={environment}"


def _address(parent, tag: str, p: Party, *, with_country: bool = False) -> None:
    a = _sub(parent, tag)
    _sub(a, "xLgr", _clip(p.street, 255))
    _sub(a, "nro", _clip(p.number, 60))
    if p.complement:
        _sub(a, "xCpl", _clip(p.complement, 60))
    _sub(a, "xBairro", _clip(p.district, 60))
    _sub(a, "cMun", p.ibge_code)
    _sub(a, "xMun", _clip(p.city, 60))
    _sub(a, "CEP", p.zip_code)
    _sub(a, "UF", p.uf)
    if p.phone:
        _sub(a, "fone", p.phone[-12:])
    if p.email:
        _sub(a, "email", p.email[:60])


def build(d: Draft) -> tuple[etree._Element, Totals]:
    """The unsigned NFCom (with infNFComSupl) and its totals."""
    root = _root("NFCom", {"xmlns": NS})
    inf = _sub(root, "infNFCom", attrs={"versao": VERSION, "Id": "NFCom" + d.key})
    ide = _sub(inf, "ide")
    _sub(ide, "cUF", d.key[:2])
    _sub(ide, "tpAmb", d.environment)
    _sub(ide, "mod", "62")
    _sub(ide, "serie", d.serie)
    _sub(ide, "nNF", d.number)
    _sub(ide, "cNF", d.c_nf)
    _sub(ide, "cDV", d.key[-1])
    _sub(ide, "dhEmi", d.issued_at.isoformat(timespec="seconds"))
    _sub(ide, "tpEmis", d.tp_emis)
    _sub(ide, "nSiteAutoriz", d.n_site_autoriz)
    _sub(ide, "cMunFG", d.emitter.ibge_code)
    _sub(ide, "finNFCom", d.purpose)
    _sub(ide, "tpFat", "0")
    _sub(ide, "verProc", d.ver_proc)

    emit = _sub(inf, "emit")
    _sub(emit, "CNPJ", d.emitter.document)
    _sub(emit, "IE", d.emitter.ie)
    _sub(emit, "CRT", d.crt)
    _sub(emit, "xNome", _clip(d.emitter.name, 60))
    _address(emit, "enderEmit", d.emitter)

    dest = _sub(inf, "dest")
    _sub(dest, "xNome", _clip(d.dest.name, 60))
    _sub(dest, "CNPJ" if len(d.dest.document) == 14 else "CPF", d.dest.document)
    _sub(dest, "indIEDest", d.dest.ind_ie)
    if d.dest.ind_ie == "1" and d.dest.ie:
        _sub(dest, "IE", d.dest.ie)
    _address(dest, "enderDest", d.dest)

    sub = _sub(inf, "assinante")
    _sub(sub, "iCodAssinante", _clip(d.subscriber_code, 30))
    _sub(sub, "tpAssinante", d.subscriber_type)
    _sub(sub, "tpServUtil", d.service_type)
    if d.contract_number:
        _sub(sub, "nContrato", _clip(d.contract_number, 20))
        if d.contract_start:
            _sub(sub, "dContratoIni", d.contract_start.isoformat())
    if d.purpose == 3:
        # gSub (MOC Anexo I #75–84): the key of the NFCom replaced and the reason
        g = _sub(inf, "gSub")
        _sub(g, "chNFCom", d.substitutes_key)
        _sub(g, "motSub", d.substitution_reason)

    totals = Totals()
    simples = d.crt in (1, 2)
    for n, item in enumerate(d.items, start=1):
        amount = Decimal(item.amount).quantize(CENT)
        det = _sub(inf, "det", attrs={"nItem": str(n)})
        prod = _sub(det, "prod")
        _sub(prod, "cProd", _clip(item.code, 60))
        _sub(prod, "xProd", _clip(item.description, 120))
        _sub(prod, "cClass", item.cclass)
        if item.cfop:
            _sub(prod, "CFOP", item.cfop)
        _sub(prod, "uMed", "4")  # 4: UN
        _sub(prod, "qFaturada", "1.0000")
        _sub(prod, "vItem", money(amount))
        _sub(prod, "vProd", money(amount))
        imp = _sub(det, "imposto")
        totals.products += amount
        totals.by_kind[item.kind] = totals.by_kind.get(item.kind, ZERO) + amount
        if simples:
            g = _sub(imp, "ICMSSN")
            _sub(g, "CST", "90")
            _sub(g, "indSN", "1")
        elif item.icms_cst == "00":
            g = _sub(imp, "ICMS00")
            value = tax(amount, item.icms_rate)
            _sub(g, "CST", "00")
            _sub(g, "vBC", money(amount))
            _sub(g, "pICMS", pct(item.icms_rate))
            _sub(g, "vICMS", money(value))
            totals.icms_base += amount
            totals.icms += value
        elif item.icms_cst in ("40", "41"):
            _sub(_sub(imp, "ICMS40"), "CST", item.icms_cst)
        elif item.icms_cst == "90":
            _sub(_sub(imp, "ICMS90"), "CST", "90")
        else:
            _sub(imp, "indSemCST", "1")
        if not simples and item.pis_rate is not None:
            value = tax(amount, item.pis_rate)
            g = _sub(imp, "PIS")
            _sub(g, "CST", "01")
            _sub(g, "vBC", money(amount))
            _sub(g, "pPIS", pct(item.pis_rate))
            _sub(g, "vPIS", money(value))
            totals.pis += value
        if not simples and item.cofins_rate is not None:
            value = tax(amount, item.cofins_rate)
            g = _sub(imp, "COFINS")
            _sub(g, "CST", "01")
            _sub(g, "vBC", money(amount))
            _sub(g, "pCOFINS", pct(item.cofins_rate))
            _sub(g, "vCOFINS", money(value))
            totals.cofins += value
        if item.cbs_rate is not None:
            totals.has_ibscbs = True
            ibs_uf = tax(amount, item.ibs_uf_rate or ZERO)
            ibs_mun = tax(amount, item.ibs_mun_rate or ZERO)
            cbs = tax(amount, item.cbs_rate)
            g = _sub(imp, "IBSCBS")
            _sub(g, "CST", item.ibscbs_cst)
            _sub(g, "cClassTrib", item.cclass_trib)
            gi = _sub(g, "gIBSCBS")
            _sub(gi, "vBC", money(amount))
            uf = _sub(gi, "gIBSUF")
            _sub(uf, "pIBSUF", pct(item.ibs_uf_rate or ZERO))
            _sub(uf, "vIBSUF", money(ibs_uf))
            mun = _sub(gi, "gIBSMun")
            _sub(mun, "pIBSMun", pct(item.ibs_mun_rate or ZERO))
            _sub(mun, "vIBSMun", money(ibs_mun))
            _sub(gi, "vIBS", money(ibs_uf + ibs_mun))
            c = _sub(gi, "gCBS")
            _sub(c, "pCBS", pct(item.cbs_rate))
            _sub(c, "vCBS", money(cbs))
            totals.ibscbs_base += amount
            totals.ibs_uf += ibs_uf
            totals.ibs_mun += ibs_mun
            totals.cbs += cbs

    tot = _sub(inf, "total")
    _sub(tot, "vProd", money(totals.products))
    icms = _sub(tot, "ICMSTot")
    _sub(icms, "vBC", money(totals.icms_base))
    _sub(icms, "vICMS", money(totals.icms))
    _sub(icms, "vICMSDeson", "0.00")
    _sub(icms, "vFCP", "0.00")
    _sub(tot, "vCOFINS", money(totals.cofins))
    _sub(tot, "vPIS", money(totals.pis))
    _sub(tot, "vFUNTTEL", "0.00")
    _sub(tot, "vFUST", "0.00")
    ret = _sub(tot, "vRetTribTot")
    for tag in ("vRetPIS", "vRetCofins", "vRetCSLL", "vIRRF"):
        _sub(ret, tag, "0.00")
    _sub(tot, "vDesc", "0.00")
    _sub(tot, "vOutro", "0.00")
    _sub(tot, "vNF", money(totals.products))
    if totals.has_ibscbs:
        t = _sub(tot, "IBSCBSTot")
        _sub(t, "vBCIBSCBS", money(totals.ibscbs_base))
        gi = _sub(t, "gIBS")
        uf = _sub(gi, "gIBSUF")
        _sub(uf, "vDif", "0.00")
        _sub(uf, "vDevTrib", "0.00")
        _sub(uf, "vIBSUF", money(totals.ibs_uf))
        mun = _sub(gi, "gIBSMun")
        _sub(mun, "vDif", "0.00")
        _sub(mun, "vDevTrib", "0.00")
        _sub(mun, "vIBSMun", money(totals.ibs_mun))
        _sub(gi, "vIBS", money(totals.ibs))
        c = _sub(t, "gCBS")
        _sub(c, "vDif", "0.00")
        _sub(c, "vDevTrib", "0.00")
        _sub(c, "vCBS", money(totals.cbs))

    fat = _sub(inf, "gFat")
    _sub(fat, "CompetFat", d.competence.strftime("%Y%m"))
    _sub(fat, "dVencFat", d.due_date.isoformat())
    _sub(fat, "codBarras", d.barcode or "0")
    if d.pix_url:
        _sub(_sub(fat, "gPIX"), "urlQRCodePIX", d.pix_url[:2000])
    if d.extra_info:
        adic = _sub(inf, "infAdic")
        for line in d.extra_info[:10]:
            _sub(adic, "infCpl", _clip(line, 5000))

    supl = _sub(root, "infNFComSupl")
    _sub(supl, "qrCodNFCom", qr_url(d.key, d.environment))
    return root[0].element(), totals

"""DANFE-COM: the printed representation of an authorised NFCom (PDF, fpdf2 + segno),
read from the document's own XML — what the customer gets is what SEFAZ authorised.

Layout after the MOC's DANFE-COM annex: emitter block and document identification
(número, série, emissão), the access key with the QR code for the consulta and the
authorisation protocol, destinatário/assinante, the items (cClass, description,
quantity, value, ICMS base/rate/value), totals, IBS/CBS, the fatura (competência,
vencimento, amount, PIX QR when present) and the additional information."""

from __future__ import annotations

import io
from decimal import Decimal

import segno
from fpdf import FPDF
from lxml import etree

from agrega.core.money import format_brl

from . import barcode
from .build import NS

N = {"n": NS}


def _t(el, path: str) -> str:
    return el.findtext(path, default="", namespaces=N) if el is not None else ""


def _brl(value: str) -> str:
    """An XML amount ("1234.50") as the DANFE prints it, by the one money formatter."""
    return format_brl(Decimal(value or "0"))


def _key_groups(key: str) -> str:
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


def _qr_png(text: str) -> io.BytesIO:
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=4, border=1)
    out.seek(0)
    return out


def render(xml: bytes, *, protocol: str = "", authorised_at: str = "", cancelled: bool = False) -> bytes:
    """The PDF of one NFCom (signed XML or nfcomProc)."""
    root = etree.fromstring(xml)
    nfcom = root if root.tag == f"{{{NS}}}NFCom" else root.find("n:NFCom", N)
    inf = nfcom.find("n:infNFCom", N)
    ide, emit, dest = inf.find("n:ide", N), inf.find("n:emit", N), inf.find("n:dest", N)
    key = inf.get("Id")[5:]
    qr = _t(nfcom, "n:infNFComSupl/n:qrCodNFCom")
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("helvetica", size=8)
    w = pdf.epw

    def head(text):
        pdf.set_font("helvetica", "B", 8)
        pdf.set_fill_color(230, 230, 230)
        pdf.cell(w, 5, text, border=1, fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=8)

    # emitter + identification
    top = pdf.get_y()
    pdf.set_font("helvetica", "B", 11)
    pdf.multi_cell(w * 0.62, 5, _t(emit, "n:xNome"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=8)
    ender = emit.find("n:enderEmit", N)
    pdf.multi_cell(w * 0.62, 4, f"{_t(ender, 'n:xLgr')}, {_t(ender, 'n:nro')} - {_t(ender, 'n:xBairro')}\n"
                   f"{_t(ender, 'n:xMun')}/{_t(ender, 'n:UF')} CEP {_t(ender, 'n:CEP')}\n"
                   f"CNPJ {_t(emit, 'n:CNPJ')}  IE {_t(emit, 'n:IE')}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_xy(pdf.l_margin + w * 0.64, top)
    pdf.set_font("helvetica", "B", 10)
    pdf.multi_cell(w * 0.36, 5, "DANFE-COM", align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_font("helvetica", size=7)
    pdf.multi_cell(w * 0.36, 3.5, "Documento Auxiliar da Nota Fiscal Fatura de Serviços de Comunicação Eletrônica",
                   align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_font("helvetica", "B", 9)
    pdf.multi_cell(w * 0.36, 5, f"Nº {int(_t(ide, 'n:nNF')):09d}  Série {_t(ide, 'n:serie')}", align="C",
                   new_x="LEFT", new_y="NEXT")
    pdf.set_font("helvetica", size=8)
    pdf.multi_cell(w * 0.36, 4, f"Emissão: {_t(ide, 'n:dhEmi')[:19].replace('T', ' ')}", align="C",
                   new_x="LMARGIN", new_y="NEXT")
    if _t(ide, "n:tpAmb") == "2":
        pdf.set_text_color(180, 0, 0)
        pdf.cell(w, 5, "EMITIDA EM AMBIENTE DE HOMOLOGAÇÃO - SEM VALOR FISCAL", align="C",
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    if cancelled:
        pdf.set_text_color(180, 0, 0)
        pdf.set_font("helvetica", "B", 12)
        pdf.cell(w, 6, "NFCom CANCELADA", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=8)
        pdf.set_text_color(0, 0, 0)
    pdf.ln(2)

    # key + QR
    head("CHAVE DE ACESSO")
    y = pdf.get_y()
    pdf.image(_qr_png(qr), x=pdf.l_margin + w - 30, y=y + 1, w=28, h=28)
    pdf.set_font("courier", "B", 9)
    pdf.cell(w - 32, 6, _key_groups(key), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=7)
    pdf.multi_cell(w - 32, 4, f"Consulte pela chave de acesso em {qr.split('?')[0]} ou pelo QR code.",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(w - 32, 4, f"Protocolo de autorização: {protocol or '-'} {authorised_at}",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), y + 31))

    # destinatário / assinante
    head("DESTINATÁRIO / ASSINANTE")
    ender = dest.find("n:enderDest", N)
    doc = _t(dest, "n:CNPJ") or _t(dest, "n:CPF")
    pdf.multi_cell(w, 4, f"{_t(dest, 'n:xNome')}  -  {'CNPJ' if _t(dest, 'n:CNPJ') else 'CPF'} {doc}\n"
                   f"{_t(ender, 'n:xLgr')}, {_t(ender, 'n:nro')} - {_t(ender, 'n:xBairro')} - "
                   f"{_t(ender, 'n:xMun')}/{_t(ender, 'n:UF')} CEP {_t(ender, 'n:CEP')}\n"
                   f"Código do assinante: {_t(inf, 'n:assinante/n:iCodAssinante')}   "
                   f"Contrato: {_t(inf, 'n:assinante/n:nContrato')}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)

    # items
    head("ITENS DA FATURA")
    cols = [("cClass", 16), ("Descrição", w - 16 - 12 - 22 - 22 - 14 - 20), ("Qtd", 12), ("Valor", 22),
            ("BC ICMS", 22), ("Alíq.", 14), ("ICMS", 20)]
    pdf.set_font("helvetica", "B", 7)
    for title, cw in cols:
        pdf.cell(cw, 5, title, border=1)
    pdf.ln()
    pdf.set_font("helvetica", size=7)
    for det in inf.findall("n:det", N):
        icms = next((g for g in det.find("n:imposto", N) if g.tag.split("}")[1].startswith("ICMS")), None)
        row = [_t(det, "n:prod/n:cClass"), _t(det, "n:prod/n:xProd")[:70],
               _t(det, "n:prod/n:qFaturada").rstrip("0").rstrip("."), _brl(_t(det, "n:prod/n:vProd")),
               _brl(_t(icms, "n:vBC")) if _t(icms, "n:vBC") else "-",
               (_t(icms, "n:pICMS") + "%") if _t(icms, "n:pICMS") else "-",
               _brl(_t(icms, "n:vICMS")) if _t(icms, "n:vICMS") else "-"]
        for (title, cw), value in zip(cols, row):
            pdf.cell(cw, 5, value, border=1)
        pdf.ln()
    pdf.ln(1)

    # totals and taxes
    tot = inf.find("n:total", N)
    head("TOTAIS E TRIBUTOS")
    pairs = [("Total dos itens", _brl(_t(tot, "n:vProd"))), ("Base de cálculo ICMS", _brl(_t(tot, "n:ICMSTot/n:vBC"))),
             ("ICMS", _brl(_t(tot, "n:ICMSTot/n:vICMS"))), ("PIS", _brl(_t(tot, "n:vPIS"))),
             ("Cofins", _brl(_t(tot, "n:vCOFINS")))]
    if tot.find("n:IBSCBSTot", N) is not None:
        pairs += [("IBS", _brl(_t(tot, "n:IBSCBSTot/n:gIBS/n:vIBS"))),
                  ("CBS", _brl(_t(tot, "n:IBSCBSTot/n:gCBS/n:vCBS")))]
    cw = w / len(pairs)
    pdf.set_font("helvetica", size=6.5)
    for label, _ in pairs:
        pdf.cell(cw, 4, label, border="LTR")
    pdf.ln()
    pdf.set_font("helvetica", "B", 8)
    for _, value in pairs:
        pdf.cell(cw, 5, value, border="LBR")
    pdf.ln()
    pdf.set_font("helvetica", "B", 10)
    pdf.cell(w, 7, f"VALOR TOTAL DA NFCom: {_brl(_t(tot, 'n:vNF'))}", border=1, align="R",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=8)
    pdf.ln(1)

    # fatura
    fat = inf.find("n:gFat", N)
    if fat is not None:
        head("FATURA")
        compet = _t(fat, "n:CompetFat")
        venc = _t(fat, "n:dVencFat")
        y = pdf.get_y()
        code = _t(fat, "n:codBarras")
        # a boleto's/arrecadação's line is printed as such; the título's number (Agrega's
        # value when the fatura is paid by PIX, services.barcode_for) is not a barcode
        code_line = (f"Linha digitável: {barcode.formatted(code)}" if barcode.is_valid_line(code)
                     else f"Identificação da fatura: {code} (sem boleto)")
        pdf.multi_cell(w - 32, 4.5, f"Competência: {compet[4:]}/{compet[:4]}   Vencimento: "
                       f"{venc[8:10]}/{venc[5:7]}/{venc[:4]}   Total a pagar: {_brl(_t(tot, 'n:vNF'))}\n"
                       f"{code_line}", new_x="LMARGIN", new_y="NEXT")
        pix = _t(fat, "n:gPIX/n:urlQRCodePIX")
        if pix:
            pdf.image(_qr_png(pix), x=pdf.l_margin + w - 30, y=y + 1, w=28, h=28)
            pdf.multi_cell(w - 32, 4, "Pague com PIX: leia o QR code ao lado.", new_x="LMARGIN", new_y="NEXT")
            pdf.set_y(max(pdf.get_y(), y + 31))
    infcpl = [e.text or "" for e in inf.findall("n:infAdic/n:infCpl", N)]
    if infcpl:
        head("INFORMAÇÕES ADICIONAIS")
        pdf.multi_cell(w, 4, "\n".join(infcpl), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())

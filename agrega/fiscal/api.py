"""/api/nfcom (documents: list, one título's NFCom, XML, DANFE-COM, emit, correct,
cancel, substitute, monthly ZIP, reports) and /api/fiscal (emitter, A1 certificate — write-only —
and products' fiscal data; administrators)."""

from __future__ import annotations

import base64
from datetime import date, datetime

from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile

from agrega.billing.services import parse_period
from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from agrega.core.errors import NotFound

from . import reports, selectors, services, tasks
from .filtersets import NFComFilterSet
from .models import NFCom

nfcom_router = Router(tags=["NFCom"])
fiscal_router = Router(tags=["Fiscal"])


class NFComOut(Schema):
    id: int
    invoice_id: int
    serie: int
    number: int
    key: str
    status: str
    status_display: str
    sefaz: str
    protocol: str
    total: str
    issued_at: datetime
    authorised_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    purpose: int
    substitutes_key: str
    substitution_reason: str

    @staticmethod
    def resolve_substitutes_key(obj) -> str:
        return obj.substitutes.key if obj.substitutes_id else ""

    @staticmethod
    def resolve_status_display(obj) -> str:
        return obj.get_status_display()

    @staticmethod
    def resolve_sefaz(obj) -> str:
        return services.describe(obj)

    @staticmethod
    def resolve_total(obj) -> str:
        return f"{obj.total:.2f}"


def _doc(invoice_id: int) -> NFCom:
    doc = selectors.for_invoice(invoice_id)
    if doc is None:
        raise NotFound("NFCom do título", "nfcom_not_found")
    return doc


@nfcom_router.get("", response={200: Page[NFComOut], 401: ErrorOut, 422: ErrorOut}, summary="Listar NFCom",
                  description="Filtros: `status`, `period` (mês de emissão, AAAA-MM; inválido: 422). Em páginas "
                  "por id crescente, como as outras listas: `limit` por página e `cursor` = o `next_cursor` da "
                  "anterior (nulo na última), para percorrer as milhares de NFCom de um mês.")
def nfcom_list(request: HttpRequest, status: NFComFilterSet.api_type("status") = None,
               period: NFComFilterSet.api_type("period") | None = None, cursor: Cursor | None = None,
               limit: int = Query(100, ge=1, le=500)):
    # the filters are NFComFilterSet's (fiscal/filtersets.py), as on the page and in the CLI
    items, next_cursor = keyset_page(NFComFilterSet({"status": status, "period": period}).queryset(),
                                     cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


class EmitIn(InputSchema):
    period: str


@nfcom_router.post("/emit", response={200: dict, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
                   summary="Emitir as NFCom de uma competência",
                   description="Numera, monta, valida, assina e envia a NFCom de cada título sem NFCom.")
def nfcom_emit(request: HttpRequest, payload: EmitIn):
    return tasks.emit_invoices(tasks.invoices_without_nfcom(parse_period(payload.period)))


@nfcom_router.get("/zip", summary="ZIP mensal dos XML (contador)", response={200: None, 401: ErrorOut})
def nfcom_zip(request: HttpRequest, period: str):
    data, _ = selectors.monthly_zip(parse_period(period))
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="nfcom-{period}.zip"'
    return response


@nfcom_router.get("/reports/revenue", response={200: dict, 401: ErrorOut}, summary="Receita SCM/SVA (NFCom)")
def report_revenue(request: HttpRequest, period: str):
    rev = reports.revenue(parse_period(period))
    return {"period": f"{rev['period']:%Y-%m}", "documents": rev["documents"],
            "by_class": {k: f"{v:.2f}" for k, v in rev["by_class"].items()}, "icms": f"{rev['icms']:.2f}",
            "total": f"{rev['total']:.2f}"}


@nfcom_router.get("/reports/transition", response={200: dict, 401: ErrorOut},
                  summary="Transição tributária: a receita do mês pelas regras de 2026, 2027 e 2033")
def report_transition(request: HttpRequest, period: str):
    emitter = services.emitter_get()
    t = reports.transition(parse_period(period), uf=emitter.uf if emitter else "SP")
    return {"period": period, "uf": t["uf"],
            "revenue": {k: f"{v:.2f}" for k, v in t["revenue"]["by_class"].items()},
            "scenarios": [{"year": s.year, "total_by_class": {k: f"{v:.2f}" for k, v in s.total_by_class.items()},
                           "taxes": {k: {tx: f"{v:.2f}" for tx, v in d.items()} for k, d in s.taxes.items()},
                           "sva_saving": f"{s.sva_saving:.2f}"} for s in t["scenarios"]]}


@nfcom_router.get("/{invoice_id}", response={200: NFComOut, 401: ErrorOut, 404: ErrorOut},
                  summary="NFCom de um título")
def nfcom_detail(request: HttpRequest, invoice_id: int):
    return _doc(invoice_id)


@nfcom_router.get("/{invoice_id}/xml", response={200: None, 401: ErrorOut, 404: ErrorOut},
                  summary="XML da NFCom (nfcomProc quando autorizada)")
def nfcom_xml(request: HttpRequest, invoice_id: int):
    doc = _doc(invoice_id)
    response = HttpResponse(selectors.document_xml(doc), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{doc.key}-nfcom.xml"'
    return response


@nfcom_router.get("/{invoice_id}/danfe", response={200: None, 401: ErrorOut, 404: ErrorOut},
                  summary="DANFE-COM (PDF)")
def nfcom_danfe(request: HttpRequest, invoice_id: int):
    doc = _doc(invoice_id)
    response = HttpResponse(selectors.document_pdf(doc), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{doc.key}-danfe.pdf"'
    return response


class CancelIn(InputSchema):
    reason: str


@nfcom_router.post("/{invoice_id}/cancel", response={200: NFComOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                                                     409: ErrorOut, 400: ErrorOut},
                   summary="Cancelar a NFCom (evento)",
                   description="Justificativa de 15 a 255 caracteres; até 120 horas após o fim do mês da autorização.")
def nfcom_cancel(request: HttpRequest, invoice_id: int, payload: CancelIn):
    return services.nfcom_cancel(nfcom_id=_doc(invoice_id).pk, reason=payload.reason, actor=request.user)


@nfcom_router.post("/{invoice_id}/correct", response={200: NFComOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                                                      409: ErrorOut, 400: ErrorOut},
                   summary="Remontar uma NFCom rejeitada com os dados corrigidos e reenviar")
def nfcom_correct(request: HttpRequest, invoice_id: int):
    doc = services.nfcom_correct(nfcom_id=_doc(invoice_id).pk, actor=request.user)
    return services.nfcom_send(nfcom_id=doc.pk)


class SubstituteIn(InputSchema):
    reason: str


@nfcom_router.post("/{invoice_id}/substitute", response={200: NFComOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                                                         409: ErrorOut, 400: ErrorOut},
                   summary="Emitir a NFCom de substituição (finNFCom 3, grupo gSub) e enviar",
                   description="Para uma NFCom autorizada (em geral depois do prazo de cancelamento): nova NFCom "
                               "com os dados atuais do título e do cliente, que substitui a original quando "
                               "autorizada. reason = motSub: 01 preço, 02 cadastral, 03 decisão judicial, "
                               "04 tributação, 05 descontinuidade do serviço, 06 regime especial.")
def nfcom_substitute(request: HttpRequest, invoice_id: int, payload: SubstituteIn):
    doc = services.nfcom_substitute(nfcom_id=_doc(invoice_id).pk, reason=payload.reason, actor=request.user)
    return services.nfcom_send(nfcom_id=doc.pk)


# ---------------------------------------------------------------- /api/fiscal

class EmitterIn(InputSchema):
    cnpj: str
    ie: str
    razao_social: str
    nome_fantasia: str = ""
    street: str
    number: str
    complement: str = ""
    district: str
    city: str
    ibge_code: str
    uf: str
    zip_code: str
    phone: str = ""
    email: str = ""
    crt: int = 3
    environment: int = 2
    serie: int = 1
    next_number: int | None = None
    sefaz_url: str = ""


class EmitterOut(Schema):
    cnpj: str
    ie: str
    razao_social: str
    ibge_code: str
    uf: str
    crt: int
    environment: int
    serie: int
    certificate_subject: str
    certificate_not_after: datetime | None
    certificate_warning: str

    @staticmethod
    def resolve_certificate_warning(obj) -> str:
        from .certificates import expiry_warning

        return expiry_warning(obj.certificate_not_after)


@fiscal_router.get("/emitter", response={200: EmitterOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
                   summary="Emitente (sem o certificado: ele nunca é devolvido)")
def emitter_get(request: HttpRequest):
    emitter = services.emitter_get()
    if emitter is None:
        raise NotFound("Emitente", "emitter_missing")
    return emitter


@fiscal_router.put("/emitter", response={200: EmitterOut, 401: ErrorOut, 403: ErrorOut, 409: ErrorOut,
                                         422: ErrorOut, 400: ErrorOut}, summary="Cadastrar/alterar o emitente")
def emitter_put(request: HttpRequest, payload: EmitterIn):
    return services.emitter_save(actor=request.user, **payload.dict())


@fiscal_router.post("/certificate", response={200: EmitterOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut},
                    summary="Enviar o certificado A1 (PKCS#12 + senha; guardado cifrado, nunca devolvido)")
def certificate_post(request: HttpRequest, file: UploadedFile = File(...), password: str = Form(...)):
    return services.certificate_upload(pkcs12=file.read(64 * 1024 + 1), password=password, actor=request.user)


class ProductFiscalIn(InputSchema):
    kind: str
    cclass: str
    cfop: str = ""
    icms_cst: str = ""
    ibscbs_cst: str = "000"
    cclass_trib: str = "000001"


class ProductFiscalOut(Schema):
    product_id: int
    kind: str
    cclass: str
    cfop: str
    icms_cst: str
    ibscbs_cst: str
    cclass_trib: str


@fiscal_router.put("/products/{product_id}", response={200: ProductFiscalOut, 401: ErrorOut, 403: ErrorOut,
                                                      404: ErrorOut, 422: ErrorOut},
                   summary="Dados fiscais de um produto (classe, cClass, CFOP, ICMS, IBS/CBS)")
def product_fiscal_put(request: HttpRequest, product_id: int, payload: ProductFiscalIn):
    return services.product_fiscal_save(product_id=product_id, kind=payload.kind, cclass_code=payload.cclass,
                                        cfop=payload.cfop, icms_cst=payload.icms_cst, ibscbs_cst=payload.ibscbs_cst,
                                        cclass_trib=payload.cclass_trib, actor=request.user)

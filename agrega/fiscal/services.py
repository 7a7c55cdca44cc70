"""NFCom writes: the emitter and its certificate, the fiscal data of products, and the
life of a document — created with its number, signed, sent, settled, cancelled.

Numbering: the série row is locked (SELECT … FOR UPDATE on PostgreSQL; SQLite
serialises writers) by the transaction that inserts the document, so a number exists
exactly when its document exists: a crash rolls both back (no gap), two workers wait
for each other (no duplicate). One document per título (unique), re-sent under the
same number after a rejection is corrected.

Sending: a document goes to ``sending`` in its own committed transaction before the
call; the answer moves it on. A document found in ``sending`` or ``unknown`` is settled
by a consulta of its key before anything is sent again, so a lost answer never leads to
a second authorisation."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agrega.billing.models import Invoice, InvoiceStatus
from agrega.core.audit import record_change
from agrega.core.br import InvalidValue, clean_document, digits
from agrega.core.errors import ApplicationError, FieldError, FieldErrors, InvalidTransition, NotFound
from agrega.core.text import clean_text

from . import build, certificates, cclass, key as keys, signing, xsd
from .models import (DocStatus, Emitter, Environment, IcmsCst, NFCom, ProductFiscal, Purpose, Series, ServiceKind,
                     SubstitutionReason)
from .taxrules import RuleBook

UFS = set(keys.UF_CODES)
CANCEL_EVENT = "110111"
RETRY_AFTER = timedelta(minutes=5)


# ---------------------------------------------------------------- emitter

def emitter_get() -> Emitter | None:
    return Emitter.objects.filter(pk=1).first()


def _text(errors: FieldErrors, data: dict, name: str, size: int, *, required: bool = True) -> str:
    try:
        value = clean_text(data.get(name, ""), max_length=size, field=name)
    except InvalidValue as exc:
        errors.add(name, exc.code, exc.message)
        return ""
    except ApplicationError as exc:
        errors.add(name, exc.code, exc.message)
        return ""
    if required and not value:
        errors.add(name, f"{name}_required", "Campo obrigatório.")
    return value


@transaction.atomic
def emitter_save(*, actor=None, **data) -> Emitter:
    """Create or update the emitter (administrators). ``next_number`` may be set only
    while the série has no document (to continue the numbering of a previous system)."""
    errors = FieldErrors()
    clean: dict = {}
    try:
        cnpj = clean_document(data.get("cnpj"))
        if len(cnpj) != 14:
            raise InvalidValue("cnpj_required", "O emitente é uma empresa: informe o CNPJ.")
        clean["cnpj"] = cnpj
    except InvalidValue as exc:
        errors.add("cnpj", exc.code, exc.message)
    ie = digits(data.get("ie"))
    if not (2 <= len(ie) <= 14):
        errors.add("ie", "ie_invalid", "Inscrição estadual: de 2 a 14 dígitos.")
    clean["ie"] = ie
    for name, size, required in (("razao_social", 60, True), ("nome_fantasia", 60, False), ("street", 60, True),
                                 ("number", 60, True), ("complement", 60, False), ("district", 60, True),
                                 ("city", 60, True), ("email", 60, False)):
        clean[name] = _text(errors, data, name, size, required=required)
    ibge = digits(data.get("ibge_code"))
    if len(ibge) != 7:
        errors.add("ibge_code", "ibge_code_invalid", "Código IBGE do município: 7 dígitos.")
    clean["ibge_code"] = ibge
    uf = str(data.get("uf") or "").strip().upper()
    if uf not in UFS:
        errors.add("uf", "uf_invalid", "UF inválida.")
    elif ibge and keys.UF_CODES[uf] != ibge[:2]:
        errors.add("ibge_code", "ibge_code_uf_mismatch", f"O código IBGE {ibge} não é de um município de {uf}.")
    clean["uf"] = uf
    zip_code = digits(data.get("zip_code"))
    if len(zip_code) != 8:
        errors.add("zip_code", "zip_code_invalid", "CEP: 8 dígitos.")
    clean["zip_code"] = zip_code
    phone = digits(data.get("phone"))
    if phone and not (7 <= len(phone) <= 12):
        errors.add("phone", "phone_invalid", "Telefone: de 7 a 12 dígitos com DDD.")
    clean["phone"] = phone
    for name, choices in (("crt", (1, 2, 3)), ("environment", (1, 2))):
        try:
            value = int(data.get(name, 3 if name == "crt" else 2))
            if value not in choices:
                raise ValueError
            clean[name] = value
        except (TypeError, ValueError):
            errors.add(name, f"{name}_invalid", f"Valor inválido; use {', '.join(map(str, choices))}.")
    try:
        serie = int(data.get("serie", 1))
        if not 0 <= serie <= 999:
            raise ValueError
        clean["serie"] = serie
    except (TypeError, ValueError):
        errors.add("serie", "serie_invalid", "Série: de 0 a 999.")
    url = str(data.get("sefaz_url") or "").strip()
    if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        errors.add("sefaz_url", "sefaz_url_invalid", "A URL do autorizador deve começar por https://.")
    clean["sefaz_url"] = url[:300]
    next_number = data.get("next_number")
    errors.raise_if_any()
    emitter = Emitter.objects.select_for_update().filter(pk=1).first() or Emitter(pk=1)
    before = {k: getattr(emitter, k, None) for k in clean}
    for name, value in clean.items():
        setattr(emitter, name, value)
    if emitter.certificate_enc and emitter.cnpj[:8] != certificates.unseal(emitter.certificate_enc).cnpj[:8]:
        raise ApplicationError("certificate_cnpj_mismatch",
                               "O certificado A1 guardado é de outro CNPJ: envie o certificado do novo CNPJ.")
    emitter.save()
    series, _ = Series.objects.select_for_update().get_or_create(environment=emitter.environment, serie=emitter.serie)
    if next_number not in (None, ""):
        try:
            number = int(next_number)
            if not 1 <= number <= 999_999_999:
                raise ValueError
        except (TypeError, ValueError):
            raise ApplicationError("next_number_invalid", "Próximo número: de 1 a 999.999.999.") from None
        if number != series.next_number:
            if NFCom.objects.filter(environment=series.environment, serie=series.serie).exists():
                raise InvalidTransition("series_in_use",
                                        "Esta série já tem NFCom emitidas: o próximo número segue a sequência "
                                        "e não pode ser alterado (números não podem ser pulados).")
            series.next_number = number
            series.save(update_fields=["next_number"])
    record_change(instance=emitter, action="update", actor=actor,
                  changes={k: [before[k], v] for k, v in clean.items() if before[k] != v})
    return emitter


@transaction.atomic
def certificate_upload(*, pkcs12: bytes, password: str, actor=None) -> Emitter:
    emitter = Emitter.objects.select_for_update().filter(pk=1).first()
    if emitter is None:
        raise ApplicationError("emitter_missing", "Cadastre o emitente antes de enviar o certificado.")
    cert = certificates.load(pkcs12, password)
    certificates.check_for(cert, cnpj=emitter.cnpj)
    emitter.certificate_enc = certificates.seal(cert)
    emitter.certificate_subject = cert.subject
    emitter.certificate_not_after = cert.not_after
    emitter.save(update_fields=["certificate_enc", "certificate_subject", "certificate_not_after", "updated_at"])
    record_change(instance=emitter, action="certificate", actor=actor,
                  changes={"certificado": cert.subject, "validade": cert.not_after.isoformat()})
    return emitter


# ---------------------------------------------------------------- products

@transaction.atomic
def product_fiscal_save(*, product_id: int, kind: str, cclass_code: str, cfop: str = "", icms_cst: str = "",
                        ibscbs_cst: str = "000", cclass_trib: str = "000001", actor=None) -> ProductFiscal:
    from agrega.catalog.models import Product

    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise NotFound("Produto", "product_not_found")
    errors = FieldErrors()
    kind = str(kind or "").upper()
    if kind not in ServiceKind.values:
        errors.add("kind", "kind_invalid", "Classificação: SCM, SVA ou OUTRO.")
    code = digits(cclass_code)
    if not cclass.exists(code):
        errors.add("cclass", "cclass_unknown", f"cClass {cclass_code!r} não está na tabela de classificação do item.")
    elif cclass.prepaid(code):
        errors.add("cclass", "cclass_prepaid_unsupported",
                   f"cClass {code} é de serviço pré-pago (a NFCom exigiria indPrePago); o Agrega fatura pós-pago.")
    cfop = digits(cfop)
    if cfop and (len(cfop) != 4 or cfop[0] not in "567"):
        errors.add("cfop", "cfop_invalid", "CFOP de saída: 4 dígitos começando por 5, 6 ou 7.")
    if kind == ServiceKind.SCM and not cfop:
        errors.add("cfop", "cfop_required", "Itens SCM (com ICMS) precisam do CFOP (ex.: 5307, 6307).")
    icms_cst = str(icms_cst or ("00" if kind == ServiceKind.SCM else "41")).upper()
    if icms_cst not in IcmsCst.values:
        errors.add("icms_cst", "icms_cst_invalid", "Situação do ICMS inválida.")
    elif kind == ServiceKind.SVA and icms_cst == IcmsCst.TAXED:
        errors.add("icms_cst", "sva_without_icms", "SVA não é tributado pelo ICMS: use 41 ou 'sem CST'.")
    if not (len(ibscbs_cst or "") == 3 and ibscbs_cst.isdigit()):
        errors.add("ibscbs_cst", "ibscbs_cst_invalid", "CST do IBS/CBS: 3 dígitos (ex.: 000).")
    if not (len(cclass_trib or "") == 6 and cclass_trib.isdigit()):
        errors.add("cclass_trib", "cclass_trib_invalid", "cClassTrib: 6 dígitos (ex.: 000001).")
    errors.raise_if_any()
    fiscal, _ = ProductFiscal.objects.update_or_create(product=product, defaults=dict(
        kind=kind, cclass=code, cfop=cfop, icms_cst=icms_cst, ibscbs_cst=ibscbs_cst, cclass_trib=cclass_trib))
    record_change(instance=product, action="fiscal", actor=actor,
                  changes={"classe": kind, "cClass": code, "CFOP": cfop, "CST ICMS": icms_cst})
    return fiscal


# ---------------------------------------------------------------- checks (named errors)

def customer_problems(customer) -> list[dict]:
    """What the NFCom needs of the destinatário, each with its code (like the SVA
    registration data): empty when the customer can receive an NFCom."""
    problems = []

    def need(field, code, message):
        problems.append({"customer_field": field, "code": code, "message": message})

    if customer.anonymized_at:
        need("name", "customer_anonymized", "Cliente anonimizado (LGPD): não é possível emitir NFCom.")
        return problems
    if not customer.document:
        need("document", "customer_document_missing", "Informe o CPF/CNPJ do cliente.")
    for field, label in (("street", "o endereço"), ("number", "o número"), ("district", "o bairro"),
                         ("city", "a cidade")):
        if not getattr(customer, field):
            need(field, f"customer_{field}_missing", f"Informe {label} do cliente.")
    if customer.state not in UFS:
        need("state", "customer_state_missing", "Informe a UF do cliente.")
    if len(customer.zip_code or "") != 8:
        need("zip_code", "customer_zip_code_missing", "Informe o CEP do cliente (8 dígitos).")
    if len(customer.ibge_code or "") != 7:
        need("ibge_code", "customer_ibge_code_missing", "Informe o código IBGE do município do cliente (7 dígitos).")
    elif customer.state in UFS and keys.UF_CODES[customer.state] != customer.ibge_code[:2]:
        need("ibge_code", "customer_ibge_code_uf_mismatch",
             f"O código IBGE {customer.ibge_code} não é de um município de {customer.state}.")
    if customer.ind_ie_dest == "1" and not customer.ie.isdigit():
        need("ie", "customer_ie_missing", "Cliente contribuinte do ICMS (indicador 1): informe a inscrição estadual.")
    return problems


def _emitter_ready() -> tuple[Emitter, certificates.Certificate]:
    emitter = emitter_get()
    if emitter is None:
        raise ApplicationError("emitter_missing", "Cadastre o emitente em Configurações > Fiscal.")
    if not emitter.certificate_enc:
        raise ApplicationError("certificate_missing", "Envie o certificado A1 em Configurações > Fiscal.")
    cert = certificates.unseal(emitter.certificate_enc)
    certificates.check_for(cert, cnpj=emitter.cnpj)
    return emitter, cert


# ---------------------------------------------------------------- building

def _emitter_party(e: Emitter) -> build.Party:
    return build.Party(name=e.razao_social, document=e.cnpj, street=e.street, number=e.number, district=e.district,
                       ibge_code=e.ibge_code, city=e.city, zip_code=e.zip_code, uf=e.uf, complement=e.complement,
                       phone=e.phone, email=e.email, ie=e.ie)


def pix_url_for(invoice) -> str:
    """``gFat/gPIX/urlQRCodePIX`` ("URL do QRCode do PIX que será apresentado na fatura",
    MOC Anexo I #247, 2–2000 characters): the content of the título's PIX QR code — the
    BR Code (copia-e-cola) of its active cobrança in agrega/pix, which carries the cobv's
    location URL and is what a bank app reads, so the QR the DANFE-COM prints from it is
    payable. Empty when the título has no active cobrança yet (or an attribute
    ``pix_qr_url`` given by another payment app)."""
    url = getattr(invoice, "pix_qr_url", "") or ""
    if url:
        return url
    try:
        from agrega.pix.models import ChargeStatus, PixCharge
    except ImportError:  # the PIX app is optional
        return ""
    payload = (PixCharge.objects.filter(invoice_id=invoice.pk, status=ChargeStatus.ACTIVE)
               .values_list("pix_copia_e_cola", flat=True).first() or "")
    return payload if 2 <= len(payload) <= 2000 else ""


def barcode_for(invoice) -> str:
    """``gFat/codBarras`` (MOC Anexo I #231: "linha digitável do código de barras",
    ``[0-9]{1,48}``, required in gFat): the linha digitável of the título's boleto or
    arrecadação document when a payment app gives one (attribute ``barcode``), checked
    digit by digit (fiscal/barcode.py). Agrega bills by PIX and issues no boleto; the MOC
    has no value for a fatura without a barcode, and the field cannot be left out, so
    then it carries the título's number (11 digits) — the identifier the customer and
    the ISP match the payment by — and the DANFE-COM prints it as such, not as a barcode
    (docs/fiscal.md)."""
    from . import barcode

    line = digits(getattr(invoice, "barcode", "") or "")
    if line:
        if not barcode.is_valid_line(line):
            raise ApplicationError("barcode_invalid",
                                   "A linha digitável do título não confere (47 dígitos do boleto ou 48 da "
                                   "arrecadação, com os dígitos verificadores).")
        return line
    return f"{invoice.pk:011d}"


def draft_for(doc: NFCom, invoice: Invoice, emitter: Emitter, rules: RuleBook | None = None) -> build.Draft:
    customer = invoice.customer
    problems = customer_problems(customer)
    if problems:
        raise ApplicationError("customer_fiscal_data_missing",
                               "Dados do cliente incompletos para a NFCom: " + "; ".join(p["message"] for p in problems),
                               extra={"problems": problems})
    local_issue = timezone.localtime(doc.issued_at)
    rules = rules or RuleBook(local_issue.date())
    lines = list(invoice.lines.all())
    if not lines:
        raise ApplicationError("invoice_without_lines", "O título não tem itens.")
    fiscal = {f.product_id: f for f in ProductFiscal.objects.filter(product_id__in=[ln.product_id for ln in lines])}
    items = []
    missing = []
    interstate = customer.state != emitter.uf
    for line in lines:
        f = fiscal.get(line.product_id)
        if f is None:
            missing.append(line.description)
            continue
        scm = f.kind == ServiceKind.SCM
        icms_rate = rules.rate("ICMS", uf=customer.state if interstate else emitter.uf, service_kind=f.kind) if scm else None
        if scm and f.icms_cst == IcmsCst.TAXED and icms_rate is None:
            raise ApplicationError("icms_rule_missing",
                                   f"Não há alíquota de ICMS em vigor para {emitter.uf} em {local_issue:%d/%m/%Y}.")
        cfop = f.cfop
        if scm and cfop and interstate and cfop[0] == "5":
            cfop = "6" + cfop[1:]
        items.append(build.Item(
            code=str(line.product_id or line.pk), description=line.description, kind=f.kind, cclass=f.cclass,
            amount=line.amount, cfop=cfop if scm else "", icms_cst=f.icms_cst, icms_rate=icms_rate or Decimal(0),
            pis_rate=rules.rate("PIS", service_kind=f.kind), cofins_rate=rules.rate("COFINS", service_kind=f.kind),
            ibscbs_cst=f.ibscbs_cst, cclass_trib=f.cclass_trib, cbs_rate=rules.rate("CBS", service_kind=f.kind),
            ibs_uf_rate=rules.rate("IBS_UF", uf=customer.state, service_kind=f.kind),
            ibs_mun_rate=rules.rate("IBS_MUN", uf=customer.state, service_kind=f.kind)))
    if missing:
        raise ApplicationError("product_fiscal_data_missing",
                               "Produtos sem dados fiscais (Catálogo > Produto > Fiscal): " + ", ".join(missing[:5]))
    if invoice.credit_applied:
        # the NFCom is the fatura: its total is what the customer pays (credit applied as discount)
        pass
    dest = build.Party(name=customer.name, document=customer.document, street=customer.street,
                       number=customer.number, district=customer.district, ibge_code=customer.ibge_code,
                       city=customer.city, zip_code=customer.zip_code, uf=customer.state, email=customer.email,
                       ie=customer.ie if customer.ind_ie_dest == "1" else "",
                       ind_ie=customer.ind_ie_dest or ("9" if len(customer.document) == 11 else "9"))
    contract = invoice.contract
    started = getattr(contract, "activated_at", None)
    return build.Draft(
        key=doc.key, environment=doc.environment, serie=doc.serie, number=doc.number, c_nf=doc.c_nf,
        issued_at=local_issue, emitter=_emitter_party(emitter), crt=emitter.crt, dest=dest,
        subscriber_code=str(customer.pk), subscriber_type="1" if len(customer.document) == 14 else "3",
        contract_number=str(contract.pk), contract_start=timezone.localtime(started).date() if started else None,
        competence=invoice.period, due_date=invoice.due_date, items=items, barcode=barcode_for(invoice),
        pix_url=pix_url_for(invoice), extra_info=_extra_info(doc, invoice), purpose=doc.purpose,
        substitutes_key=doc.substitutes.key if doc.substitutes_id else "",
        substitution_reason=doc.substitution_reason)


def _extra_info(doc: NFCom, invoice: Invoice) -> list[str]:
    lines = [f"Titulo {invoice.pk}"]
    if doc.substitutes_id:
        original = doc.substitutes
        # infCpl allows Latin-1 only (no em dash): the code and its plain label
        label = doc.get_substitution_reason_display().split("—")[-1].strip()
        lines.append(f"Substitui a NFCom {original.serie}/{original.number} (chave {original.key}), motivo "
                     f"{doc.substitution_reason} - {label}")
    return lines


def _apply_totals(doc: NFCom, totals: build.Totals) -> None:
    doc.total = totals.products
    doc.scm_amount = totals.by_kind.get(ServiceKind.SCM, Decimal(0))
    doc.sva_amount = totals.by_kind.get(ServiceKind.SVA, Decimal(0))
    doc.other_amount = totals.by_kind.get(ServiceKind.OTHER, Decimal(0))
    doc.icms_amount = totals.icms


def _build_signed(doc: NFCom, invoice: Invoice, emitter: Emitter, cert, rules=None) -> bytes:
    root, totals = build.build(draft_for(doc, invoice, emitter, rules))
    _apply_totals(doc, totals)
    signed = signing.sign_enveloped(root, certificate=cert)
    xsd.validate(signed)
    return signed


def _numbered(*, invoice: Invoice, emitter: Emitter, cert, issued: datetime, rules: RuleBook | None = None,
              **fields) -> NFCom:
    """Inside the caller's transaction: lock the série, take its next number, build, sign
    and validate the document, insert it and advance the série — a number exists exactly
    when its document exists."""
    series, _ = Series.objects.get_or_create(environment=emitter.environment, serie=emitter.serie)
    series = Series.objects.select_for_update().get(pk=series.pk)
    number = series.next_number
    local = timezone.localtime(issued)
    c_nf = keys.random_code(settings.SECRET_KEY, serie=series.serie, number=number,
                            environment=emitter.environment)
    key = keys.build_key(keys.KeyParts(keys.UF_CODES[emitter.uf], local.strftime("%y%m"), emitter.cnpj,
                                       series.serie, number, 1, 0, c_nf))
    doc = NFCom(invoice=invoice, environment=emitter.environment, serie=series.serie, number=number,
                key=key, c_nf=c_nf, issued_at=issued.replace(microsecond=0), **fields)
    doc.xml = _build_signed(doc, invoice, emitter, cert, rules)
    doc.status = DocStatus.SIGNED
    doc.save(force_insert=True)
    series.next_number = number + 1
    series.save(update_fields=["next_number"])
    return doc


def nfcom_create(*, invoice_id: int, now: datetime | None = None, rules: RuleBook | None = None) -> NFCom:
    """The título's NFCom, numbered, built, validated and signed (status ``signed``);
    the existing one when it already has one. Nothing is numbered when any data is
    missing: the checks run before the série is locked, and the build inside the same
    transaction as the number, so a failure leaves neither."""
    existing = current_for_invoice(invoice_id)
    if existing is not None:
        return existing
    emitter, cert = _emitter_ready()
    invoice = Invoice.objects.select_related("customer", "contract").filter(pk=invoice_id).first()
    if invoice is None:
        raise NotFound("Título", "invoice_not_found")
    if invoice.status == InvoiceStatus.CANCELLED:
        raise InvalidTransition("invoice_cancelled", "Título cancelado: não se emite NFCom.")
    issued = now or timezone.now()
    with transaction.atomic():
        # the título first (one NFCom per título even when two workers try), then the série
        Invoice.objects.select_for_update().filter(pk=invoice_id).values_list("pk").first()
        existing = current_for_invoice(invoice_id)
        if existing is not None:
            return existing
        return _numbered(invoice=invoice, emitter=emitter, cert=cert, issued=issued, rules=rules)


def current_for_invoice(invoice_id: int) -> NFCom | None:
    """The título's current NFCom: the last of its chain of substitutions (a substitute is
    always numbered after the document it replaces)."""
    return NFCom.objects.filter(invoice_id=invoice_id).order_by("-id").first()


SUBSTITUTION_YEARS = 5  # MOC NFCom, Anexo I, rule G45 (cStat 413)


def _recipient_document(xml: bytes) -> str:
    from lxml import etree

    root = etree.fromstring(xml)
    q = "{%s}" % build.NS
    dest = root.find(f"{q}infNFCom/{q}dest")
    if dest is None:
        return ""
    return (dest.findtext(q + "CNPJ") or dest.findtext(q + "CPF") or "").strip()


def nfcom_substitute(*, nfcom_id: int, reason: str, now: datetime | None = None, actor=None) -> NFCom:
    """An NFCom de substituição (finNFCom 3, group gSub) for an authorised NFCom: the
    manual's correction once the document can no longer be cancelled (or whenever its data
    were wrong). The new document is numbered in the same série, rebuilt from the current
    data of the título, customer and products, and signed; the original becomes
    ``substituted`` when the SEFAZ authorises the new one. The checks follow the MOC's
    rules G45–G54 so the SEFAZ has nothing to reject for them."""
    reason = str(reason or "").strip().zfill(2)
    if reason not in SubstitutionReason.values:
        message = "Motivo da substituição: " + "; ".join(SubstitutionReason.labels) + "."
        raise ApplicationError("substitution_reason_invalid", message,
                               fields={"reason": [FieldError("reason_invalid", message)]})
    original = NFCom.objects.select_related("invoice").filter(pk=nfcom_id).first()
    if original is None:
        raise NotFound("NFCom", "nfcom_not_found")
    emitter, cert = _emitter_ready()
    issued = (now or timezone.now()).replace(microsecond=0)
    with transaction.atomic():
        original = NFCom.objects.select_for_update().get(pk=nfcom_id)
        pending = NFCom.objects.filter(substitutes=original).first()
        if pending is not None:
            raise InvalidTransition(
                "substitution_exists",
                f"Esta NFCom já tem uma NFCom de substituição ({pending.serie}/{pending.number}, "
                f"{pending.get_status_display().lower()}): envie, corrija ou consulte aquela.")
        if original.status != DocStatus.AUTHORISED:
            raise InvalidTransition("nfcom_not_authorised", "Só uma NFCom autorizada pode ser substituída.")
        if issued - original.issued_at > timedelta(days=365 * SUBSTITUTION_YEARS):
            raise InvalidTransition("substitution_too_old",
                                    "A NFCom tem mais de 5 anos: não pode mais ser substituída (regra G45).")
        invoice = Invoice.objects.select_related("customer", "contract").get(pk=original.invoice_id)
        if invoice.status == InvoiceStatus.CANCELLED:
            raise InvalidTransition("invoice_cancelled", "Título cancelado: não se emite NFCom de substituição.")
        if original.environment != emitter.environment:
            raise InvalidTransition("substitution_environment_changed",
                                    "A NFCom original é de outro ambiente (homologação/produção) que o do emitente.")
        was = _recipient_document(bytes(original.xml))
        if was and was != invoice.customer.document:
            raise InvalidTransition(
                "substitution_recipient_changed",
                f"O CPF/CNPJ do cliente mudou ({was} → {invoice.customer.document}): a NFCom de substituição "
                "deve ter o mesmo destinatário da original (regra G54). Para outro destinatário, cancele "
                "a original (no prazo) e emita uma nova.")
        doc = _numbered(invoice=invoice, emitter=emitter, cert=cert, issued=issued,
                        purpose=Purpose.SUBSTITUTION, substitutes=original, substitution_reason=reason)
        record_change(instance=doc, action="substitute", actor=actor,
                      changes={"substitui": original.key, "motivo": doc.get_substitution_reason_display()})
    return doc


def _mark_substituted(doc: NFCom) -> None:
    """The substitute is authorised: its original is no longer valid (the SEFAZ records
    the event 240140, 'Autorizada NFCom de Substituição', on it)."""
    if doc.substitutes_id:
        NFCom.objects.filter(pk=doc.substitutes_id, status=DocStatus.AUTHORISED).update(
            status=DocStatus.SUBSTITUTED, updated_at=timezone.now())


@transaction.atomic
def nfcom_correct(*, nfcom_id: int, actor=None) -> NFCom:
    """Rebuild a rejected document from the corrected data (customer, product, emitter),
    under the same number and key, signed again and ready to send."""
    doc = NFCom.objects.select_for_update().filter(pk=nfcom_id).first()
    if doc is None:
        raise NotFound("NFCom", "nfcom_not_found")
    if doc.status not in (DocStatus.REJECTED, DocStatus.SIGNED):
        raise InvalidTransition("nfcom_not_rejected", "Só uma NFCom rejeitada (ou ainda não enviada) pode ser corrigida.")
    emitter, cert = _emitter_ready()
    invoice = Invoice.objects.select_related("customer", "contract").get(pk=doc.invoice_id)
    doc.xml = _build_signed(doc, invoice, emitter, cert)
    doc.status = DocStatus.SIGNED
    doc.next_attempt_at = None
    doc.save()
    record_change(instance=doc, action="correct", actor=actor, changes={"rejeição": [doc.c_stat, doc.x_motivo]})
    return doc


# ---------------------------------------------------------------- sending

REJECTION_HINTS = {
    # plain-Portuguese hints for common rejections (the SEFAZ text is always shown too)
    "204": "Esta NFCom já foi autorizada antes (duplicidade): a situação foi consultada.",
    "213": "O CNPJ do emitente não confere com o certificado.",
    "215": "O XML não passou na validação do esquema.",
    "297": "A assinatura digital não confere.",
    "539": "Já existe NFCom com este número e outra chave: verifique a numeração.",
}


def describe(doc: NFCom) -> str:
    """The SEFAZ's answer with a plain-Portuguese hint (sefaz/codes.py) for a rejection."""
    from .sefaz import codes

    if not doc.c_stat:
        return ""
    hint = ""
    if doc.c_stat not in codes.AUTHORISED:
        hint = REJECTION_HINTS.get(doc.c_stat) or codes.MESSAGES.get(doc.c_stat, "")
    return f"{doc.c_stat} — {doc.x_motivo}" + (f" ({hint})" if hint else "")


def _ca_bundle() -> str | None:
    """``FISCAL_SEFAZ_CA_BUNDLE``, or the demo's SEFAZ sandbox CA when the demo set
    AGREGA_SEFAZ_SANDBOX_PKI after the settings were read."""
    import os

    value = getattr(settings, "FISCAL_SEFAZ_CA_BUNDLE", "") or ""
    if not value and os.environ.get("AGREGA_SEFAZ_SANDBOX_PKI"):
        value = os.path.join(os.environ["AGREGA_SEFAZ_SANDBOX_PKI"], "ca.pem")
    return value or None


def _client_for(emitter: Emitter, cert):
    """The authoriser of the emitter's UF and environment (SVRS), or the URL set on the
    emitter (the sandbox); ``FISCAL_SEFAZ_CA_BUNDLE`` trusts a test authoriser's CA."""
    from .sefaz.client import SefazClient
    from .sefaz.urls import base_url

    url = base_url(emitter.uf, str(emitter.environment), override=emitter.sefaz_url or None)
    return SefazClient(url=url, pkcs12=cert.pkcs12, password=cert.password,
                       timeout=float(getattr(settings, "FISCAL_SEFAZ_TIMEOUT", 30)),
                       ca_bundle=_ca_bundle(),
                       c_uf=keys.UF_CODES[emitter.uf], tp_amb=str(emitter.environment))


def client() -> object:
    emitter, cert = _emitter_ready()
    return _client_for(emitter, cert)


def _settle(doc: NFCom, consulta) -> NFCom:
    """Apply a consulta's answer to a document whose outcome was unknown."""
    if consulta.situation == "authorised":
        from .sefaz.client import join_proc

        doc.status = DocStatus.AUTHORISED
        doc.protocol = consulta.n_prot or doc.protocol
        if consulta.proc_xml:
            doc.proc_xml = join_proc(bytes(doc.xml), consulta.proc_xml)
        doc.authorised_at = doc.authorised_at or timezone.now()
        _mark_substituted(doc)
    elif consulta.situation == "substituted":
        doc.status = DocStatus.SUBSTITUTED
        doc.protocol = consulta.n_prot or doc.protocol
    elif consulta.situation == "cancelled":
        doc.status = DocStatus.CANCELLED
        doc.cancelled_at = doc.cancelled_at or timezone.now()
    elif consulta.situation == "rejected":
        doc.status = DocStatus.REJECTED
    else:  # not_found: it never arrived; the same signed XML may go again
        doc.status = DocStatus.SIGNED
    doc.c_stat, doc.x_motivo = str(consulta.c_stat or ""), (consulta.x_motivo or "")[:500]
    doc.save()
    return doc


def nfcom_send(*, nfcom_id: int, sefaz=None) -> NFCom:
    """Send one signed document (or settle one in flight). Never two authorisations:
    a document in ``sending``/``unknown`` is consulted first; a send is recorded as
    ``sending`` (committed) before the call."""
    from .sefaz.client import SefazOutcomeUnknown, SefazUnavailable

    sefaz = sefaz or client()
    with transaction.atomic():
        doc = NFCom.objects.select_for_update().filter(pk=nfcom_id).first()
        if doc is None:
            raise NotFound("NFCom", "nfcom_not_found")
        status = doc.status
    if status in (DocStatus.SENDING, DocStatus.UNKNOWN):
        try:
            consulta = sefaz.consultar(doc.key)
        except (SefazUnavailable, SefazOutcomeUnknown):
            return doc
        with transaction.atomic():
            doc = NFCom.objects.select_for_update().get(pk=nfcom_id)
            if doc.status not in (DocStatus.SENDING, DocStatus.UNKNOWN):
                return doc
            doc = _settle(doc, consulta)
        if doc.status != DocStatus.SIGNED:
            return doc
    with transaction.atomic():
        doc = NFCom.objects.select_for_update().get(pk=nfcom_id)
        if doc.status != DocStatus.SIGNED:
            return doc
        doc.status = DocStatus.SENDING
        doc.attempts += 1
        doc.save(update_fields=["status", "attempts", "updated_at"])
    try:
        answer = sefaz.autorizar(bytes(doc.xml))
    except SefazUnavailable as exc:
        NFCom.objects.filter(pk=doc.pk, status=DocStatus.SENDING).update(
            status=DocStatus.SIGNED, next_attempt_at=timezone.now() + RETRY_AFTER,
            x_motivo=f"SEFAZ indisponível: {exc}"[:500], updated_at=timezone.now())
        return NFCom.objects.get(pk=doc.pk)
    except SefazOutcomeUnknown as exc:
        NFCom.objects.filter(pk=doc.pk, status=DocStatus.SENDING).update(
            status=DocStatus.UNKNOWN, x_motivo=f"Resposta não recebida: {exc}"[:500], updated_at=timezone.now())
        return NFCom.objects.get(pk=doc.pk)
    with transaction.atomic():
        doc = NFCom.objects.select_for_update().get(pk=doc.pk)
        doc.c_stat, doc.x_motivo = str(answer.c_stat), (answer.x_motivo or "")[:500]
        if answer.authorised:
            doc.status = DocStatus.AUTHORISED
            doc.protocol = answer.n_prot or ""
            doc.proc_xml = answer.proc_xml or b""
            doc.authorised_at = timezone.now()
            _mark_substituted(doc)
        elif str(answer.c_stat) == "204":  # duplicity: already authorised — the consulta says so
            doc.status = DocStatus.UNKNOWN
        else:
            doc.status = DocStatus.REJECTED
        doc.save()
    if doc.status == DocStatus.UNKNOWN:
        return nfcom_send(nfcom_id=doc.pk, sefaz=sefaz)
    return doc


def pending_ids(*, limit: int = 500) -> list[int]:
    """Documents to send or settle now (signed and due, or in flight)."""
    from django.db.models import Q

    now = timezone.now()
    return list(NFCom.objects.filter(
        Q(status=DocStatus.SIGNED, next_attempt_at__isnull=True) | Q(status=DocStatus.SIGNED, next_attempt_at__lte=now)
        | Q(status__in=[DocStatus.SENDING, DocStatus.UNKNOWN])).order_by("id").values_list("pk", flat=True)[:limit])


def send_pending(*, sefaz=None, limit: int = 500) -> dict:
    """Send what is due when SEFAZ is in service; otherwise leave it waiting."""
    sefaz = sefaz or client()
    status = sefaz.status_servico()
    if not status.in_service:
        return {"in_service": False, "sent": 0, "motivo": status.x_motivo}
    counts: dict = {"in_service": True, "sent": 0}
    # cancellations whose answer did not come (or that waited for the SEFAZ) go again
    for pk in NFCom.objects.filter(status=DocStatus.AUTHORISED, cancel_requested=True).values_list("pk", flat=True)[:limit]:
        try:
            doc = NFCom.objects.get(pk=pk)
            nfcom_cancel(nfcom_id=pk, reason=doc.cancel_reason, sefaz=sefaz)
            counts["cancelled"] = counts.get("cancelled", 0) + 1
        except Exception as exc:  # noqa: BLE001 — the next run tries again; the reason is logged
            import logging

            logging.getLogger(__name__).warning("NFCom %s: cancelamento pendente: %s", pk, exc)
    for pk in pending_ids(limit=limit):
        doc = nfcom_send(nfcom_id=pk, sefaz=sefaz)
        if doc.status == DocStatus.AUTHORISED and doc.cancel_requested:
            # its título was cancelled while it waited: the number is used, then cancelled
            doc = nfcom_cancel(nfcom_id=doc.pk, reason=doc.cancel_reason, sefaz=sefaz)
        elif doc.status == DocStatus.AUTHORISED and getattr(settings, "FISCAL_EMAIL_BILLS", True):
            try:
                send_bill_email(nfcom_id=doc.pk)
            except Exception:  # the mail server's trouble never undoes an authorisation
                import logging

                logging.getLogger(__name__).exception("NFCom %s: e-mail ao cliente falhou", doc.pk)
        counts["sent"] += 1
        counts[doc.status] = counts.get(doc.status, 0) + 1
    return counts


# ---------------------------------------------------------------- cancellation

def cancel_deadline(authorised_at: datetime) -> datetime:
    """Ajuste SINIEF 7/2022, cláusula décima quinta: up to 120 hours after the last day
    of the month of the authorisation (local time)."""
    local = timezone.localtime(authorised_at)
    last = calendar.monthrange(local.year, local.month)[1]
    end_of_month = local.replace(day=last, hour=23, minute=59, second=59, microsecond=0)
    return end_of_month + timedelta(hours=120)


def build_cancel_event(doc: NFCom, emitter: Emitter, reason: str, when: datetime, seq: int = 1):
    from lxml import etree

    q = "{%s}" % build.NS
    root = etree.Element(q + "eventoNFCom", versao="1.00", nsmap={None: build.NS})
    inf = etree.SubElement(root, q + "infEvento", Id=f"ID{CANCEL_EVENT}{doc.key}{seq:03d}")
    for tag, text in (("cOrgao", doc.key[:2]), ("tpAmb", str(doc.environment)), ("CNPJ", emitter.cnpj),
                      ("chNFCom", doc.key), ("dhEvento", timezone.localtime(when).isoformat(timespec="seconds")),
                      ("tpEvento", CANCEL_EVENT), ("nSeqEvento", str(seq))):
        etree.SubElement(inf, q + tag).text = text
    det = etree.SubElement(inf, q + "detEvento", versaoEvento="1.00")
    ev = etree.SubElement(det, q + "evCancNFCom")
    etree.SubElement(ev, q + "descEvento").text = "Cancelamento"
    etree.SubElement(ev, q + "nProt").text = doc.protocol
    etree.SubElement(ev, q + "xJust").text = reason
    return root


def clean_reason(reason) -> str:
    text = " ".join(str(reason or "").split())
    if not 15 <= len(text) <= 255:
        message = "Justificativa do cancelamento: de 15 a 255 caracteres."
        raise ApplicationError("cancel_reason_invalid", message,
                               fields={"reason": [FieldError("reason_length", message)]})
    return clean_text(text, max_length=255, field="reason")


def nfcom_cancel(*, nfcom_id: int, reason: str, sefaz=None, actor=None, now: datetime | None = None) -> NFCom:
    """Register the cancellation event of an authorised NFCom within the legal deadline."""
    reason = clean_reason(reason)
    now = now or timezone.now()
    doc = NFCom.objects.filter(pk=nfcom_id).first()
    if doc is None:
        raise NotFound("NFCom", "nfcom_not_found")
    if doc.status == DocStatus.CANCELLED:
        return doc
    if doc.status == DocStatus.SUBSTITUTED:
        raise InvalidTransition("nfcom_substituted", "Esta NFCom já foi substituída: não pode ser cancelada.")
    if doc.status != DocStatus.AUTHORISED:
        raise InvalidTransition("nfcom_not_authorised", "Só uma NFCom autorizada pode ser cancelada.")
    if doc.purpose == Purpose.SUBSTITUTION:
        raise InvalidTransition(
            "substitute_not_cancellable",
            "Uma NFCom de substituição não pode ser cancelada (MOC NFCom, regra L07, cStat 524): corrija-a "
            "com outra NFCom de substituição.")
    deadline = cancel_deadline(doc.authorised_at or doc.issued_at)
    if now > deadline:
        raise InvalidTransition(
            "cancel_deadline_passed",
            f"O prazo de cancelamento terminou em {timezone.localtime(deadline):%d/%m/%Y %H:%M} (120 horas após o "
            "fim do mês da autorização). Corrija com uma NFCom de substituição (finNFCom 3, grupo gSub): "
            "Substituir NFCom, na página do título.")
    emitter, cert = _emitter_ready()
    sefaz = sefaz or _client_for(emitter, cert)
    if doc.cancel_requested and doc.cancel_xml:
        # an earlier request may have been registered with its answer lost: ask first
        consulta = sefaz.consultar(doc.key)
        if consulta.situation == "cancelled":
            NFCom.objects.filter(pk=doc.pk).update(status=DocStatus.CANCELLED, cancelled_at=now,
                                                   c_stat=str(consulta.c_stat), x_motivo=consulta.x_motivo[:500])
            return NFCom.objects.get(pk=doc.pk)
    event = signing.sign_enveloped(build_cancel_event(doc, emitter, reason, now), certificate=cert)
    xsd.validate(event, xsd.EVENT)
    NFCom.objects.filter(pk=doc.pk).update(cancel_requested=True, cancel_reason=reason, cancel_xml=event)
    answer = sefaz.registrar_evento(event)
    with transaction.atomic():
        doc = NFCom.objects.select_for_update().get(pk=doc.pk)
        if answer.registered:
            doc.status = DocStatus.CANCELLED
            doc.cancel_protocol = answer.n_prot or ""
            doc.cancelled_at = now
            doc.cancel_xml = answer.proc_xml or event
            doc.save()
            record_change(instance=doc, action="cancel", actor=actor, changes={"justificativa": reason})
        else:
            raise ApplicationError("cancel_refused", f"A SEFAZ recusou o cancelamento: {answer.c_stat} — "
                                   f"{answer.x_motivo}")
    return doc


def invoice_cancelled(*, invoice_id: int, sefaz=None) -> NFCom | None:
    """A cancelled título cancels its NFCom (authorised: the event; not yet sent: the
    document is kept unsent and marked so it never goes)."""
    doc = current_for_invoice(invoice_id)
    if doc is None or doc.status in (DocStatus.CANCELLED, DocStatus.SUBSTITUTED):
        return doc
    if doc.purpose == Purpose.SUBSTITUTION:
        # a substitute cannot be cancelled (MOC rule L07, cStat 524), not even later once
        # sent: nothing is requested; the accountant decides the next step
        import logging

        logging.getLogger(__name__).warning("NFCom de substituição %s: título cancelado, NFCom mantida", doc.pk)
        return doc
    invoice = Invoice.objects.get(pk=invoice_id)
    reason = f"Titulo {invoice_id} cancelado: {invoice.cancel_reason or 'cancelamento da cobranca'}"[:255]
    if len(reason) < 15:
        reason = (reason + " pelo provedor")[:255]
    if doc.status == DocStatus.AUTHORISED:
        return nfcom_cancel(nfcom_id=doc.pk, reason=reason, sefaz=sefaz)
    NFCom.objects.filter(pk=doc.pk).update(cancel_requested=True, cancel_reason=reason)
    return NFCom.objects.get(pk=doc.pk)


# ---------------------------------------------------------------- the customer's e-mail

def _invoice_pix_part(invoice_id: int):
    """The título's PIX for its e-mail (open, cobv active), or None; the PIX app is optional."""
    try:
        from agrega.pix.mail import invoice_pix_part
    except ImportError:
        return None
    return invoice_pix_part(invoice_id)


def send_bill_email(*, nfcom_id: int, connection=None) -> bool:
    """E-mail the customer the fatura: the DANFE-COM (PDF) and the XML (nfcomProc)
    attached. Once per document (``emailed_at``); False when there is no address or it
    is not authorised. agrega/notices has no bill e-mail yet: this is it, to be folded
    into the notices outbox when one exists."""
    from django.core.mail import EmailMessage

    from . import selectors

    doc = NFCom.objects.select_related("invoice__customer").filter(pk=nfcom_id).first()
    if doc is None or doc.status != DocStatus.AUTHORISED or doc.emailed_at:
        return False
    customer = doc.invoice.customer
    if not customer.email:
        return False
    invoice = doc.invoice
    body = (f"Olá, {customer.name}.\n\nSegue a sua fatura de {invoice.period:%m/%Y} (NFCom {doc.serie}/{doc.number}), "
            f"no valor de R$ {str(doc.total).replace('.', ',')}, com vencimento em {invoice.due_date:%d/%m/%Y}.\n"
            f"Chave de acesso: {doc.key}\n\nO DANFE-COM (PDF) e o XML da nota fiscal estão anexos.")
    subject = f"Sua fatura {invoice.period:%m/%Y} — NFCom {doc.number}"
    pix = _invoice_pix_part(invoice.pk)
    if pix is None:
        message = EmailMessage(subject=subject, body=body, to=[customer.email], connection=connection)
    else:  # the título's PIX: copia-e-cola in the text, QR code inline in the HTML part
        from agrega.pix.mail import email_with_pix

        message = email_with_pix(subject=subject, body=body, to=[customer.email], pix=pix, connection=connection)
    message.attach(f"{doc.key}-danfe.pdf", selectors.document_pdf(doc), "application/pdf")
    message.attach(f"{doc.key}-nfcom.xml", selectors.document_xml(doc), "application/xml")
    message.send()
    NFCom.objects.filter(pk=doc.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
    return True

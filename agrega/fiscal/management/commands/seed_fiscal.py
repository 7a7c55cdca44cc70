"""``agrega seed_fiscal``: the demo's NFCom setup — the emitter with an A1 issued by the
SEFAZ sandbox's test CA, the fiscal data of the demo products and customers — then the
NFCom of this month's títulos, authorised by the sandbox, and one DANFE-COM in
var/demo-danfe-com.pdf. Idempotent (a second run only emits what is missing)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.utils import timezone

from agrega.catalog.models import Product
from agrega.core.management.base import PortugueseCommand
from agrega.customers.models import Customer
from agrega.fiscal import selectors, services, tasks
from agrega.fiscal.models import DocStatus, NFCom, ProductFiscal

DEMO_CNPJ = "11222333000181"
PASSWORD = "agrega-demo-a1"
CCLASS = {"SCM": ("0100401", "5307"), "SVA": ("1100101", ""), "OUTRO": ("1100201", "")}


class Command(PortugueseCommand):
    help = "Demo: emitente, certificado A1 de teste e NFCom dos títulos do mês (sandbox da SEFAZ)."

    def add_arguments(self, parser):
        parser.add_argument("--sefaz-url", required=True, metavar="URL", help="endereço do sandbox da SEFAZ")
        parser.add_argument("--pki-dir", required=True, metavar="PASTA",
                            help="pasta da AC de teste do sandbox da SEFAZ (var/sefaz-pki)")

    def handle(self, *args, sefaz_url, pki_dir, **options):
        from sefaz_sandbox.pki import Pki, make_a1

        if services.emitter_get() is None:
            services.emitter_save(cnpj=DEMO_CNPJ, ie="111222333444", razao_social="PROVEDOR DEMO LTDA",
                                  street="Avenida Paulista", number="1000", district="Bela Vista",
                                  city="São Paulo", ibge_code="3550308", uf="SP", zip_code="01310100",
                                  crt=3, environment=2, serie=1, sefaz_url=sefaz_url)
        emitter = services.emitter_get()
        if emitter.sefaz_url != sefaz_url:
            type(emitter).objects.filter(pk=emitter.pk).update(sefaz_url=sefaz_url)
        if not emitter.certificate_enc:
            a1 = make_a1(cnpj=DEMO_CNPJ, razao="PROVEDOR DEMO LTDA", password=PASSWORD, ca=Pki(pki_dir).ca)
            services.certificate_upload(pkcs12=a1, password=PASSWORD)
        for product in Product.objects.exclude(pk__in=ProductFiscal.objects.values("product_id")):
            cclass, cfop = CCLASS[product.fiscal_class]
            services.product_fiscal_save(product_id=product.pk, kind=product.fiscal_class, cclass_code=cclass,
                                         cfop=cfop)
        Customer.objects.filter(ibge_code="", anonymized_at__isnull=True).update(
            ibge_code="3550308", state="SP", city="São Paulo", ind_ie_dest="9",
            street="Rua Augusta", number="500", district="Consolação", zip_code="01304000")
        counts = tasks.emit_invoices(tasks.invoices_without_nfcom(timezone.localdate().replace(day=1)))
        self.stdout.write(f"» NFCom: {counts['created']} criadas; envio: {counts.get('send')}")
        doc = NFCom.objects.filter(status=DocStatus.AUTHORISED).order_by("id").first()
        if doc:
            path = Path(settings.VAR_DIR) / "demo-danfe-com.pdf"
            path.write_bytes(selectors.document_pdf(doc))
            self.stdout.write(f"» DANFE-COM de exemplo: {path} (título {doc.invoice_id})")

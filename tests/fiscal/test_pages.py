"""The fiscal pages through Django's test client (server-side rendering and role rules;
the browser tests are tests/fiscal/test_fiscal_pages.py): Configurações > Fiscal for administrators only, with the
certificate's expiry warning; the título page's NFCom section with DANFE/XML and the
cancellation; the NFCom list and the reports page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agrega.core.roles import Role
from agrega.fiscal.models import DocStatus, Emitter, NFCom
from tests.fixtures import logged_in_client

pytestmark = pytest.mark.django_db(transaction=True)


def test_settings_page_is_for_administrators_and_warns_before_expiry(emitter, role_user):
    admin = logged_in_client(role_user("adm", Role.ADMIN))
    operator = logged_in_client(role_user("op", Role.OPERATOR))
    assert operator.get("/configuracoes/fiscal/").status_code == 403
    page = admin.get("/configuracoes/fiscal/")
    assert page.status_code == 200 and b"data-certificate-warning" not in page.content
    assert b"PROVEDOR TESTE LTDA" in page.content and b"LC 214/2025" in page.content
    Emitter.objects.filter(pk=1).update(certificate_not_after=timezone.now() + timedelta(days=10))
    page = admin.get("/configuracoes/fiscal/")
    assert b"data-certificate-warning" in page.content and "renove".encode() in page.content


def test_dashboard_warns_30_days_before_the_certificate_expires(emitter, role_user):
    """Início shows the A1 certificate's expiry only inside the 30-day window, and says
    so plainly once it has expired."""
    client = logged_in_client(role_user("op", Role.OPERATOR))
    Emitter.objects.filter(pk=1).update(certificate_not_after=timezone.now() + timedelta(days=31))
    assert b"data-fiscal-cert-warning" not in client.get("/").content
    Emitter.objects.filter(pk=1).update(certificate_not_after=timezone.now() + timedelta(days=29))
    page = client.get("/").content.decode()
    assert "data-fiscal-cert-warning" in page and "renove-o" in page and "Configurações &gt; Fiscal" in page
    Emitter.objects.filter(pk=1).update(certificate_not_after=timezone.now() - timedelta(days=1))
    assert "nenhuma NFCom pode ser emitida" in client.get("/").content.decode()


def test_titulo_page_emits_downloads_and_cancels(emitter, billed, role_user):
    invoice = billed(1)[0]
    op = logged_in_client(role_user("op", Role.OPERATOR))
    page = op.get(f"/financeiro/titulos/{invoice.pk}/")
    assert page.status_code == 200 and "Este título ainda não tem NFCom".encode() in page.content
    op.post(f"/financeiro/nfcom/{invoice.pk}/emit/")
    doc = NFCom.objects.get(invoice=invoice)
    assert doc.status == DocStatus.AUTHORISED
    page = op.get(f"/financeiro/titulos/{invoice.pk}/")
    assert doc.key.encode() in page.content and b"DANFE-COM" in page.content
    assert op.get(f"/financeiro/nfcom/{invoice.pk}/danfe/").content.startswith(b"%PDF")
    assert b"nfcomProc" in op.get(f"/financeiro/nfcom/{invoice.pk}/xml/").content
    op.post(f"/financeiro/nfcom/{invoice.pk}/cancel/", {"reason": "Cobranca emitida em duplicidade"})
    assert NFCom.objects.get(pk=doc.pk).status == DocStatus.CANCELLED
    listing = op.get("/financeiro/nfcom/")
    assert listing.status_code == 200 and b"Cancelada" in listing.content
    assert op.get("/financeiro/nfcom/relatorios/").status_code == 200


def test_product_fiscal_page_saves_and_names_errors(emitter, make_product, role_user):
    from agrega.fiscal.models import ProductFiscal

    product = make_product(name="Internet Fibra", fiscal_class="SCM")
    admin = logged_in_client(role_user("adm", Role.ADMIN))
    assert logged_in_client(role_user("op", Role.OPERATOR)).get("/configuracoes/fiscal/produtos/").status_code == 403
    page = admin.get("/configuracoes/fiscal/produtos/")
    assert page.status_code == 200 and b"Internet Fibra" in page.content and b"0100401" in page.content
    bad = admin.post("/configuracoes/fiscal/produtos/", {"product_id": product.pk, "kind": "SCM", "cclass": "0100401"})
    assert bad.status_code == 422 and "CFOP".encode() in bad.content
    ok = admin.post("/configuracoes/fiscal/produtos/", {"product_id": product.pk, "kind": "SCM", "cclass": "0100401",
                                                         "cfop": "5307"})
    assert ok.status_code == 302
    assert ProductFiscal.objects.get(product=product).cfop == "5307"

"""Issue 20: internal codes never reach an operator's page, their Portuguese words do.
The codes stay in the API, the CLI's --json and the CSV downloads (integrators need them)."""

from __future__ import annotations

import re

from django.test import Client

from agrega.billing.models import PaymentImport
from agrega.imports.models import ImportJob, ImportRow, ImportStatus, RowStatus
from agrega.sva.models import SvaCall, SvaUser
from tests.fixtures import default_platform_only
from tests.sva.test_sva_pages import _active_contract

sva_platform = default_platform_only()


def _admin(make_user) -> Client:
    client = Client()
    client.force_login(make_user("codes-admin", "administrador"))
    return client


def test_pages_show_messages_not_codes(make_user, platform_integration, make_product, make_customer, make_contract,
                                       converge, platform_account, platform_admin):
    client = _admin(make_user)

    job = ImportJob.objects.create(file_name="clientes.csv", sha256="0" * 64, status=ImportStatus.DONE,
                                   total_lines=1, rejected=1)
    ImportRow.objects.create(job=job, index=0, line=2, ref="C-1", status=RowStatus.REJECTED, messages=[
        {"level": "error", "code": "document_invalid", "message": "CPF/CNPJ inválido: confira os dígitos."}])
    page = client.get(f"/importacoes/{job.pk}/").content.decode()
    assert "CPF/CNPJ inválido: confira os dígitos." in page
    assert "document_invalid" not in page

    record = PaymentImport.objects.create(file_name="pag.csv", sha256="1" * 64, provider="banco", lines_total=1,
                                          lines_rejected=1, report=[{
                                              "line": 2, "external_id": "PG-1", "invoice_id": None, "amount": "",
                                              "paid_on": "", "status": "rejected", "code": "invoice_not_found",
                                              "message": "Título não encontrado."}])
    page = client.get(f"/financeiro/pagamentos/importacoes/{record.pk}/").content.decode()
    assert "Título não encontrado." in page
    assert "invoice_not_found" not in page

    # A real refusal by the sandbox: the timeline names the operation and the failure in Portuguese.
    refused_email = f"codigos.{platform_account.prefix}@example.com.br"
    platform_admin.set_faults(prefix=platform_account.prefix, refuse_emails=[refused_email], refuse_status=413)
    contract = _active_contract(make_contract, make_product(platform_integration, name="EXA Códigos"),
                                make_customer(email=refused_email))
    converge(allow_errors=True)
    user = SvaUser.objects.get(contract=contract)
    assert SvaCall.objects.filter(sva_user=user, error_code="payload_too_large", operation="create_user").exists()
    page = client.get(f"/usuarios-sva/{user.pk}/linha-do-tempo/").content.decode()
    assert "Criar usuário" in page
    assert "A plataforma EXA recusou os dados: grandes demais (HTTP 413)." in page
    # The raw request/answer bodies (collapsed, under "Dados") are the platform's data, kept as sent.
    shown = re.sub(r"<pre[^>]*>.*?</pre>", "", page, flags=re.S)
    for code in ("payload_too_large", "create_user", "auth_token"):
        assert code not in shown

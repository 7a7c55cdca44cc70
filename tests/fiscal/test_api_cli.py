"""The API and the CLI over the same services: the emitter and its write-only A1 for
administrators only, emission, XML/DANFE download, cancellation; ``agrega nfcom``."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from agrega.core.roles import Role
from agrega.fiscal.models import DocStatus, NFCom
from tests.fiscal.conftest import CNPJ, PASSWORD
from tests.fixtures import bearer_headers

pytestmark = pytest.mark.django_db(transaction=True)

EMITTER = dict(cnpj="11.222.333/0001-81", ie="1234567890", razao_social="PROVEDOR TESTE LTDA", street="Rua A",
               number="1", district="Centro", city="Curitiba", ibge_code="4106902", uf="PR", zip_code="80010000")


def test_emitter_and_certificate_are_for_administrators_and_the_a1_is_never_returned(role_user, a1, tax_rules):
    admin = bearer_headers(role_user("adm", Role.ADMIN))
    operator = bearer_headers(role_user("op", Role.OPERATOR))
    c = Client()
    assert c.put("/api/fiscal/emitter", EMITTER, content_type="application/json", **operator).status_code == 403
    r = c.put("/api/fiscal/emitter", {**EMITTER, "ibge_code": "3550308"}, content_type="application/json", **admin)
    assert r.status_code == 422 and r.json()["error"]["fields"]["ibge_code"][0]["code"] == "ibge_code_uf_mismatch"
    assert c.put("/api/fiscal/emitter", EMITTER, content_type="application/json", **admin).status_code == 200
    bad = c.post("/api/fiscal/certificate", {"file": SimpleUploadedFile("a1.pfx", a1[0]), "password": "errada"},
                 **admin)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "certificate_password"
    ok = c.post("/api/fiscal/certificate", {"file": SimpleUploadedFile("a1.pfx", a1[0]), "password": PASSWORD},
                **admin)
    assert ok.status_code == 200, ok.content
    body = c.get("/api/fiscal/emitter", **admin).json()
    assert body["cnpj"] == CNPJ and body["certificate_not_after"] and "pkcs12" not in json.dumps(body)
    assert PASSWORD not in json.dumps(body)
    assert c.get("/api/fiscal/emitter", **operator).status_code == 403


def test_certificate_of_another_cnpj_is_refused(role_user, sefaz_sandbox, tax_rules):
    from sefaz_sandbox.pki import make_a1

    admin = bearer_headers(role_user("adm", Role.ADMIN))
    c = Client()
    c.put("/api/fiscal/emitter", EMITTER, content_type="application/json", **admin)
    other = make_a1(cnpj="45723174000110", razao="OUTRA", password="x",
                    ca=sefaz_sandbox.ca)
    r = c.post("/api/fiscal/certificate", {"file": SimpleUploadedFile("a1.pfx", other), "password": "x"}, **admin)
    assert r.status_code == 400 and r.json()["error"]["code"] == "certificate_cnpj_mismatch"


def test_emit_download_and_cancel_through_api_and_cli(emitter, billed, role_user, tmp_path):
    invoices = billed(2)
    op = bearer_headers(role_user("op", Role.OPERATOR))
    c = Client()
    r = c.post("/api/nfcom/emit", {"period": "2026-12"}, content_type="application/json", **op)
    assert r.status_code == 200 and r.json()["created"] == 2, r.content
    assert set(NFCom.objects.values_list("status", flat=True)) == {DocStatus.AUTHORISED}
    first = invoices[0].pk
    assert c.get(f"/api/nfcom/{first}", **op).json()["status"] == "authorised"
    xml = c.get(f"/api/nfcom/{first}/xml", **op)
    assert xml.status_code == 200 and b"nfcomProc" in xml.content
    pdf = c.get(f"/api/nfcom/{first}/danfe", **op)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    r = c.post(f"/api/nfcom/{first}/cancel", {"reason": "curta"}, content_type="application/json", **op)
    assert r.status_code in (400, 422)
    assert [e["code"] for e in r.json()["error"]["fields"]["reason"]] == ["reason_length"]  # named, not []
    r = c.post(f"/api/nfcom/{first}/cancel", {"reason": "Cobranca emitida em duplicidade"},
               content_type="application/json", **op)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    # CLI: list, cancel the second, the accountant's ZIP
    out = StringIO()
    call_command("nfcom", "cancel", str(invoices[1].pk), "--reason", "Servico nao prestado no periodo", stdout=out)
    assert "cancelada" in out.getvalue()
    out = StringIO()
    call_command("nfcom", "zip", "--period", f"{NFCom.objects.first().issued_at:%Y-%m}", "--out",
                 str(tmp_path / "m.zip"), stdout=out)
    assert "2 NFCom" in out.getvalue() and (tmp_path / "m.zip").stat().st_size > 0

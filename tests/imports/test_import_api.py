"""/api/imports: upload, dry run (nothing written), validate, start, rows, roles."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agrega.contracts.models import Contract
from agrega.core.models import ApiToken
from agrega.core.roles import assign_role
from agrega.imports.models import ImportJob

from .helpers import csv_bytes, row, table_counts

pytestmark = pytest.mark.django_db


def client_for(role: str) -> tuple[Client, dict]:
    user = get_user_model().objects.create_user(f"api-{role.split()[0]}", password="x")
    assign_role(user, role)
    _, raw = ApiToken.issue(user=user, name="testes")
    return Client(), {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def upload(client, headers, path: str, content: bytes, **data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post("/api/imports" + path, {"file": SimpleUploadedFile("clientes.csv", content, "text/csv"), **data},
                       **headers)


def test_dry_run_upload_import_and_rows(make_product):
    fiber = make_product(name="Fibra", fiscal_class="SCM")
    client, headers = client_for("operador")
    content = csv_bytes([row(1, produtos=str(fiber.pk)), row(2, email="sem-arroba"), row(3)])

    before = table_counts()
    response = upload(client, headers, "/dry-run", content)
    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["applied"], report["rejected"]) == (2, 1)
    assert report["lines"][0]["line"] == 3 and report["lines"][0]["messages"][0]["code"] == "email_invalid"
    assert table_counts() == before

    response = upload(client, headers, "", content)
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["status"] == "uploaded" and job["total_lines"] == 3 and job["mapping"]["cpf_cnpj"] == "cpf_cnpj"
    response = client.post(f"/api/imports/{job['id']}/validate?wait=true", **headers)
    assert response.status_code == 200 and response.json()["status"] == "validated"
    assert client.get(f"/api/imports/{job['id']}/report", **headers).json()["rejected"] == 1
    response = client.post(f"/api/imports/{job['id']}/start?wait=true", **headers)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "done" and response.json()["applied"] == 2
    rows = client.get(f"/api/imports/{job['id']}/rows", {"status": "rejected"}, **headers).json()["items"]
    assert [r["line"] for r in rows] == [3] and rows[0]["messages"][0]["field"] == "email"
    assert Contract.objects.count() == 2
    response = client.post(f"/api/imports/{job['id']}/start", **headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "import_not_startable"


def test_mapping_errors_and_roles(make_product):
    client, headers = client_for("operador")
    content = csv_bytes([{"num": "1", "quem": "Fulano"}], header=["num", "quem"])
    response = upload(client, headers, "", content, mapping='{"contrato_ref": "num", "nome": "nada"}')
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "mapping_invalid" and set(error["fields"]) == {"nome", "cpf_cnpj"}
    response = upload(client, headers, "", b"")
    assert response.status_code == 422 and response.json()["error"]["code"] == "file_empty"

    reader, read_headers = client_for("somente leitura")
    assert upload(reader, read_headers, "", csv_bytes([row(1)])).status_code == 403
    assert reader.get("/api/imports", **read_headers).status_code == 200
    assert ImportJob.objects.count() == 0

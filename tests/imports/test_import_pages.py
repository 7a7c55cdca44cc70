"""Sistema > Importação in a real browser: upload, column mapping recognised from the
file's own headers, dry run with every line's problems, import with the progress bar,
resume of a paused import, roles."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from agrega.contracts.models import Contract
from agrega.customers.models import Customer
from agrega.imports import services
from agrega.imports.models import ImportJob
from tests.imports.helpers import csv_bytes, row
from playwright.sync_api import expect


# the dry runs, imports and campaigns the pages start are run by the task worker
pytestmark = pytest.mark.usefixtures("task_runner")

HEADER = ["Nº Contrato", "Razão Social", "CPF/CNPJ", "E-mail", "Celular", "Cidade", "UF", "Vencimento",
          "Situação", "Serviços"]


def their_file(rows: list[dict]) -> bytes:
    ours = ["contrato_ref", "nome", "cpf_cnpj", "email", "celular", "cidade", "uf", "dia_vencimento", "status",
            "produtos"]
    return csv_bytes([{h: r.get(k, "") for h, k in zip(HEADER, ours)} for r in rows], header=HEADER,
                     encoding="cp1252")


def wait_for_status(job_id: int, status: str, seconds: float = 30) -> ImportJob:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=job_id)
        if job.status == status:
            return job
        time.sleep(0.1)
    raise AssertionError(f"import {job_id} did not reach {status} (is {job.status})")


def test_upload_map_dry_run_and_import_with_progress(admin_page, make_product, tmp_path, screenshot):
    page = admin_page
    fiber = make_product(name="Fibra 700 Mega", price="109.90", fiscal_class="SCM")
    path = tmp_path / "base-provedor.csv"
    path.write_bytes(their_file([
        row(1, nome="Conceição Araújo", produtos=f"{fiber.pk}=99,90", status="A"),
        row(2, cpf_cnpj="111.111.111-12"),
        row(3, email="sem-arroba.com", celular="12345"),
        row(4, produtos="Internet Fantasma"),
        *[row(n, produtos=str(fiber.pk)) for n in range(5, 41)],
    ]))

    page.get_by_role("button", name="Sistema").click()
    page.get_by_role("link", name="Importação").click()
    page.wait_for_url(re.compile(r"/importacoes/$"))
    page.get_by_role("link", name="Nova importação").click()
    page.set_input_files("#id_file", str(path))
    screenshot("importacao-envio")
    page.get_by_role("button", name="Enviar").click()
    page.wait_for_url(re.compile(r"/importacoes/\d+/$"))
    job = ImportJob.objects.get()
    expect(page.get_by_text("Arquivo recebido: 40 linhas")).to_be_visible()
    # the ISP's own headers were recognised
    assert page.locator("#id_cpf_cnpj").input_value() == "CPF/CNPJ"
    assert page.locator("#id_nome").input_value() == "Razão Social"
    assert page.locator("#id_contrato_ref").input_value() == "Nº Contrato"
    screenshot("importacao-mapeamento")
    before = (Customer.objects.count(), Contract.objects.count())
    page.get_by_role("button", name="Simular importação").click()
    page.get_by_role("heading", name=re.compile("^Simulação")).wait_for(timeout=30_000)
    assert (Customer.objects.count(), Contract.objects.count()) == before  # the dry run wrote nothing
    problems = page.get_by_role("table", name="Problemas da simulação")
    expect(problems.locator("tr[data-line='3']").get_by_text("CPF inválido")).to_be_visible()
    expect(problems.locator("tr[data-line='4']").get_by_text("E-mail inválido.")).to_be_visible()
    expect(problems.locator("tr[data-line='4']").get_by_text("Telefone celular inválido", exact=False)).to_be_visible()
    expect(problems.locator("tr[data-line='5']").get_by_text("produto desconhecido: 'Internet Fantasma'")).to_be_visible()
    screenshot("importacao-simulacao")

    page.get_by_role("button", name="Importar 37 linhas").click()
    page.get_by_role("progressbar", name="Progresso da importação").wait_for()
    wait_for_status(job.pk, "done")
    page.get_by_text("Concluída").first.wait_for(timeout=15_000)  # the progress poll reloads the page
    expect(page.locator("[data-counts]").get_by_text("37 importadas")).to_be_visible()
    expect(page.locator("[data-counts]").get_by_text("3 rejeitadas")).to_be_visible()
    lines = page.get_by_role("table", name="Linhas da importação")
    expect(lines.locator("tr[data-line='3']").get_by_text("Rejeitada")).to_be_visible()
    screenshot("importacao-concluida")
    assert Contract.objects.count() == 37
    assert Customer.objects.filter(name="Conceição Araújo").exists()
    assert Contract.objects.filter(status="A").count() == 1

    csv_text = page.request.get(f"/importacoes/{job.pk}/linhas.csv").text()
    assert csv_text.count("\n") == 41 and "Rejeitada" in csv_text and "Importada" in csv_text


def test_paused_import_resumes_from_the_page(admin_page, screenshot):
    page = admin_page
    job = services.import_job_create(file_name="grande.csv", content=csv_bytes([row(n) for n in range(1, 61)]))

    def pause_at_20(current):
        if current.next_index == 20:
            services.import_job_pause(job=current)

    services.import_job_run(job_id=job.pk, batch_size=10, progress=pause_at_20)
    page.goto(f"/importacoes/{job.pk}/")
    expect(page.get_by_text("Pausada").first).to_be_visible()
    expect(page.get_by_text("20 de 60 linhas processadas")).to_be_visible()
    screenshot("importacao-pausada")
    page.get_by_role("button", name="Retomar").click()
    wait_for_status(job.pk, "done")
    page.get_by_text("Concluída").first.wait_for(timeout=15_000)
    assert Contract.objects.count() == 60 and ImportJob.objects.get(pk=job.pk).applied == 60


def test_read_only_sees_but_cannot_import(make_user, login, page):
    make_user("leitora", "somente leitura")
    login("leitora")
    page.goto("/importacoes/")
    expect(page.get_by_role("heading", name="Importação de clientes e contratos")).to_be_visible()
    assert page.get_by_role("link", name="Nova importação").count() == 0
    client = Client()
    client.login(username="leitora", password="senha-de-teste-123")
    assert client.get("/importacoes/nova/").status_code == 403
    assert client.post("/importacoes/nova/", {}).status_code == 403

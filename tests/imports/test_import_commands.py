"""`agrega import …`: the dry run prints every line's problems and writes nothing; the
import prints its progress and the rejected lines; errors exit 2 with `erro [code]`."""

from __future__ import annotations

import json
from functools import partial

import pytest

from agrega.contracts.models import Contract
from agrega.imports.models import ImportJob
from tests.imports.helpers import csv_bytes, row, table_counts
from tests.cli.helpers import run as run_command

pytestmark = pytest.mark.django_db


run = partial(run_command, "import")  # (code, out, err), tests/cli/helpers.py


@pytest.fixture
def file(tmp_path, make_product):
    fiber = make_product(name="Fibra 600", fiscal_class="SCM")
    path = tmp_path / "clientes.csv"
    path.write_bytes(csv_bytes([row(1, nome="João Conceição", produtos=f"{fiber.pk}=99,90"), row(2, celular="1234"),
                                row(3, produtos="Inexistente"), *[row(n) for n in range(4, 13)]], encoding="cp1252"))
    return path


def test_dry_run_prints_every_problem_and_writes_nothing(file):
    before = table_counts()
    code, out, err = run("customers-contracts", file, "--dry-run")
    assert code == 0, err
    assert table_counts() == before
    assert "nada foi gravado" in out and "(cp1252, separador ';')" in out
    assert "linha 3 [CT-000002] erro [mobile_invalid]" in out
    assert "linha 4 [CT-000003] erro [product_unknown]: Produtos: produto desconhecido: 'Inexistente'." in out
    assert "simulação: 12/12 linhas verificadas" in out

    code, out, err = run("customers-contracts", file, "--dry-run", "--json", "--quiet")
    data = json.loads(out)
    assert data["dry_run"] and (data["applied"], data["rejected"]) == (10, 2)
    assert table_counts() == before


def test_import_prints_progress_and_rejected_lines_then_reimport_skips(file):
    code, out, err = run("customers-contracts", file, "--batch-size", "5", "--as", "sistema")
    assert code == 0, err
    assert out.count("progresso:") == 3
    assert "progresso: 5/12 linhas (41%)" in out and "progresso: 12/12 linhas (100%)" in out
    assert "Importadas:                10" in out and "Rejeitadas:                2" in out
    assert "linha 3 [CT-000002] erro [mobile_invalid]" in out
    assert Contract.objects.count() == 10

    code, out, err = run("customers-contracts", file, "--json", "--quiet")
    data = json.loads(out)
    assert (data["applied"], data["skipped_duplicate"], data["rejected"]) == (0, 10, 2)
    assert "já foi importado (importação" in err
    assert Contract.objects.count() == 10

    job = ImportJob.objects.order_by("pk").first()
    code, out, err = run("show", job.pk, "--status", "rejected")
    assert code == 0 and "linha 4 [CT-000003] erro [product_unknown]" in out
    code, out, err = run("list")
    assert code == 0 and "clientes.csv" in out and "Concluída" in out


def test_refusals_exit_2(file, tmp_path):
    code, out, err = run("customers-contracts")
    assert code == 2 and "erro [file_required]" in err
    code, out, err = run("customers-contracts", tmp_path / "nao-existe.csv")
    assert code == 2 and "erro [file_unreadable]" in err
    mapping = tmp_path / "mapa.json"
    mapping.write_text(json.dumps({"contrato_ref": "contrato_ref", "nome": "Nome Completo"}))
    code, out, err = run("customers-contracts", file, "--mapping", mapping)
    assert code == 2 and "erro [mapping_invalid]" in err and "nome: [mapping_header_missing]" in err
    assert ImportJob.objects.count() == 0
    code, out, err = run("customers-contracts", "--resume", 999)
    assert code == 2 and "erro [import_not_found]" in err
    run("customers-contracts", file, "--quiet")
    other = tmp_path / "outro.csv"
    other.write_bytes(csv_bytes([row(50)]))
    job = ImportJob.objects.get()
    code, out, err = run("customers-contracts", other, "--resume", job.pk)
    assert code == 2 and "erro [file_mismatch]" in err
    code, out, err = run("customers-contracts", "--resume", job.pk)
    assert code == 2 and "erro [import_done]" in err


def test_layout_lists_the_columns():
    code, out, err = run("layout")
    assert code == 0 and "contrato_ref" in out and "cpf_cnpj" in out and "produtos" in out

"""``agrega billing|invoice|payments …``: thin commands over the billing and dunning
services; Portuguese text by default, JSON with --json, exit 2 with ``erro [code]``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from agrega.billing.models import BillingRun, Invoice, Payment, PaymentImport
from agrega.contracts.choices import AccessStatus as AS
from agrega.dunning.models import TrustRelease
from tests.billing.fixtures_billing import months_ago
from tests.cli.helpers import Result, ok, run  # noqa: F401

pytestmark = pytest.mark.django_db


def test_billing_run_and_runs(active_contract, role_user):
    role_user("faturista", "operador")
    contracts = [active_contract() for _ in range(2)]
    period = f"{months_ago(1):%Y-%m}"
    text = ok("billing", "run", "--period", period, "--as", "faturista").out
    assert f"competência {months_ago(1):%m/%Y} concluído" in text and "Títulos criados:" in text
    assert "R$ 219,80" in text
    data = ok("billing", "run", "--period", period, "--json").json
    assert data["invoices_created"] == 0 and data["period"] == period and data["total_amount"] == "0.00"
    assert Invoice.objects.filter(contract__in=contracts).count() == 2
    runs = ok("billing", "runs", "--json").json
    assert [r["actor"] for r in runs] == ["sistema", "faturista"]
    bad = run("billing", "run", "--period", "2026-13")
    assert bad.code == 2 and "erro [period_invalid]: Competência inválida" in bad.err
    assert BillingRun.objects.count() == 2


def test_invoice_list_show_pay_cancel(billed, blocked, role_user):
    role_user("caixa", "operador")
    _, other = billed(months=1)
    contract, late = blocked()  # billed only for its own period: paying it settles everything

    listing = ok("invoice", "list", "--contract", contract.pk).out
    assert f"{late.pk}" in listing and "R$ 109,90" in listing and "vencido" in listing
    overdue = {i["id"] for i in ok("invoice", "list", "--overdue", "--json").json}
    assert late.pk in overdue
    assert [i["id"] for i in ok("invoice", "list", "--period", f"{months_ago(1):%Y-%m}", "--json").json] == [
        i.pk for i in Invoice.objects.filter(period=months_ago(1)).order_by("id")]

    show = ok("invoice", "show", late.pk).out
    assert "Internet 300 Mega" in show and "SCM" in show and "SVA" in show and "nenhum pagamento" in show

    paid = ok("invoice", "pay", late.pk, "--amount", "109,90", "--date", f"{timezone.localdate():%d/%m/%Y}",
              "--id", "REC-9", "--as", "caixa").out
    assert "Pagamento" in paid and "registrado: R$ 109,90" in paid and "Pago" in paid
    contract.refresh_from_db()
    assert contract.access_status == AS.ACTIVE
    again = ok("invoice", "pay", late.pk, "--amount", "109.90", "--date", f"{timezone.localdate():%d/%m/%Y}",
               "--id", "REC-9", "--json").json
    assert again["created"] is False and Payment.objects.count() == 1
    assert Payment.objects.get().actor_label == "caixa"
    reused = run("invoice", "pay", other.pk, "--amount", "1", "--id", "REC-9")
    assert reused.code == 2 and "erro [payment_id_reused]" in reused.err
    bad = run("invoice", "pay", other.pk, "--amount", "abc")
    assert bad.code == 2 and "amount_invalid" in bad.err
    bad_date = run("invoice", "pay", other.pk, "--amount", "1", "--date", "32/01/2026")
    assert bad_date.code == 2 and "erro [date_invalid]: Data inválida" in bad_date.err

    refused = run("invoice", "cancel", late.pk, "--reason", "x")
    assert refused.code == 2 and "erro [invoice_has_payments]" in refused.err
    cancelled = ok("invoice", "cancel", other.pk, "--reason", "cobrança indevida", "--json").json
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "cobrança indevida"
    missing = run("invoice", "show", 999999, "--json")
    assert missing.code == 2 and missing.json["error"]["code"] == "invoice_not_found"


def test_payments_import_prints_report_and_exits_2_on_rejections(billed, tmp_path):
    _, good = billed()
    path = tmp_path / "retorno.csv"
    today = f"{timezone.localdate():%d/%m/%Y}"
    path.write_text(f"id_pagamento;titulo;valor;data_pagamento\nA-1;{good.pk};109,90;{today}\nA-2;999999;1,00;{today}\n",
                    encoding="latin-1")
    first = run("payments", "import", path, "--provider", "banco")
    assert first.code == 2 and "erro [lines_rejected]: 1 linha(s) recusada(s)" in first.err
    assert "Aplicado" in first.out and "Recusado" in first.out and "Título 999999 não encontrado." in first.out
    good.refresh_from_db()
    assert good.status == "paid"

    second = run("payments", "import", path, "--provider", "banco", "--json")
    assert second.code == 2
    assert [(e["line"], e["status"]) for e in second.json["report"]] == [(2, "duplicate"), (3, "rejected")]
    assert Payment.objects.count() == 1

    path.write_text(f"id_pagamento;titulo;valor;data_pagamento\nA-1;{good.pk};109,90;{today}\n")
    clean = run("payments", "import", path, "--provider", "banco")
    assert clean.code == 0 and "Já aplicado" in clean.out

    listing = ok("payments", "imports", "--json").json
    assert [r["lines_rejected"] for r in listing] == [0, 1, 1]
    shown = ok("payments", "show", listing[-1]["id"]).out
    assert "Relatório por linha" in shown and "invoice_not_found" in shown
    missing = run("payments", "import", tmp_path / "nao-existe.csv", "--provider", "banco")
    assert missing.code == 2 and "erro [file_unreadable]" in missing.err
    header = tmp_path / "ruim.csv"
    header.write_text("a;b\n1;2\n")
    assert "erro [header_invalid]" in run("payments", "import", header, "--provider", "banco").err
    assert PaymentImport.objects.count() == 3


def test_billing_summary_and_trust_release(blocked, role_user):
    role_user("atendente", "operador")
    contract, invoice = blocked()
    summary = ok("billing", "summary", contract.pk).out
    assert "Saldo em aberto:" in summary and "R$ 109,90" in summary and "Suspensão parcial" in summary
    assert "disponível (até 3 dia(s); 1 de 1 uso(s) restante(s))" in summary

    too_long = run("dunning", "trust-release", contract.pk, "--days", "9")
    assert too_long.code == 2 and "erro [trust_days_invalid]" in too_long.err
    released = ok("dunning", "trust-release", contract.pk, "--days", "2", "--note", "vai pagar", "--as", "atendente")
    assert "Desbloqueio de confiança concedido até" in released.out and "ativo até" in released.out
    contract.refresh_from_db()
    assert contract.access_status == AS.ACTIVE
    assert TrustRelease.objects.get().actor_label == "atendente"

    again = run("dunning", "trust-release", contract.pk, "--json")
    assert again.code == 2 and again.json["error"]["code"] == "trust_release_not_blocked"
    data = ok("billing", "summary", contract.pk, "--json").json
    assert data["trust_release"]["used"] == 1 and data["trust_release"]["available"] is False
    assert data["open_balance"] == "109.90" and [i["id"] for i in data["invoices"]] == [invoice.pk]
    assert run("billing", "summary", 999999).code == 2


@pytest.mark.skipif(not shutil.which("agrega", path=str(Path(sys.executable).parent)), reason="console script")
def test_console_script_help(tmp_path):
    """``agrega invoice --help`` through the installed console script (a real process)."""
    exe = str(Path(sys.executable).parent / "agrega")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="agrega.settings")
    for command in (["invoice", "pay", "--help"], ["dunning", "trust-release", "--help"],
                    ["payments", "import", "--help"]):
        done = subprocess.run([exe, *command], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "--json" in done.stdout


def test_tasks_cli_follows_a_queued_billing_run(active_contract, run_tasks):
    """`agrega tasks list|show|run-ready`: the run the pages or the API queued, followed
    from the shell."""
    from agrega.billing.services import billing_run_queue

    active_contract()
    run_ = billing_run_queue(period=months_ago(1), actor=None)
    listed = ok("tasks", "list", "--json").json
    assert [(t["id"], t["status"], t["link_label"]) for t in listed] == [
        (run_.task_id, "READY", f"Faturamento {run_.pk}")]
    assert "na fila" in ok("tasks", "list").out
    assert ok("tasks", "run-ready", "--json").json == {"ran": 1}
    shown = ok("tasks", "show", run_.task_id).out
    assert "concluída" in shown and f"Faturamento {run_.pk}" in shown and "'invoices': 1" in shown
    missing = run("tasks", "show", "00000000-0000-0000-0000-000000000000")
    assert missing.code != 0 and "task_not_found" in missing.err
    assert run("tasks", "show", "nada").code != 0

"""The CLI (``agrega customer|integration|product|contract|sva_user …``): thin commands over
the services, Portuguese text by default, JSON with --json, exit 2 (or 3 for the
platform) with ``erro [code]`` on stderr and never a traceback.

On the exa_* fixtures: ``agrega integration`` is driven with EXA's own credential options."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from agrega.contracts.models import Contract
from agrega.core.br import make_cpf
from agrega.sva.models import SvaUser

from .helpers import Result, ok, run  # noqa: F401

pytestmark = pytest.mark.django_db


# -- customer ------------------------------------------------------------------------------


def test_customer_create_show_update_list():
    document = make_cpf(424242)
    created = ok(
        "customer",
        "create",
        "--name",
        "Maria da Silva",
        "--document",
        document,
        "--email",
        "maria@example.com",
        "--mobile-phone",
        "(11) 98765-4321",
        "--city",
        "São Paulo",
        "--state",
        "sp",
        "--zip-code",
        "01310-100",
    )
    assert "Cliente criado." in created.out
    assert f"{document[:3]}.{document[3:6]}.{document[6:9]}-{document[9:]}" in created.out
    assert "(11) 98765-4321" in created.out

    data = ok("customer", "list", "--q", "maria", "--json").json
    assert len(data) == 1
    customer_id = data[0]["id"]
    assert data[0]["document"] == document and data[0]["mobile_phone"] == "+5511987654321"
    assert data[0]["state"] == "SP"

    updated = ok(
        "customer", "update", customer_id, "--email", "maria.nova@example.com", "--json"
    ).json
    assert updated["email"] == "maria.nova@example.com"
    assert updated["name"] == "Maria da Silva"  # untouched fields stay

    shown = ok("customer", "show", customer_id)
    assert f"Cliente {customer_id} — Maria da Silva" in shown.out
    assert "maria.nova@example.com" in shown.out

    assert ok("customer", "list", "--q", document[:5], "--json").json[0]["id"] == customer_id
    assert ok("customer", "list", "--q", "ninguém", "--json").json == []
    assert "Nenhum cliente encontrado." in ok("customer", "list", "--q", "ninguém").out


def test_validation_error_exits_2_with_code_and_fields():
    result = run(
        "customer",
        "create",
        "--name",
        "",
        "--document",
        "111.111.111-12",
        "--mobile-phone",
        "1133334444",
    )
    assert result.code == 2
    lines = result.err.splitlines()
    assert lines[0].startswith("erro [validation_failed]: ")
    assert "  name: [name_required] Informe o nome ou a razão social." in lines
    assert any(line.startswith("  document: [cpf_invalid] ") for line in lines)
    assert any(line.startswith("  mobile_phone: [mobile_not_mobile] ") for line in lines)
    assert "Traceback" not in result.err
    assert result.out == ""


def test_error_with_json_also_prints_the_error_body_on_stdout():
    result = run("customer", "create", "--name", "X", "--document", "123", "--json")
    assert result.code == 2
    body = result.json["error"]
    assert body["code"] == "validation_failed"
    assert body["fields"]["document"][0]["code"] == "document_invalid"
    assert result.err.startswith("erro [validation_failed]")


def test_conflict_and_not_found_exit_2(make_customer):
    customer = make_customer()
    result = run("customer", "create", "--name", "Outro", "--document", customer.document)
    assert result.code == 2
    assert result.err.startswith("erro [document_in_use]: ")
    assert "  document: [document_in_use] CPF/CNPJ já cadastrado." in result.err.splitlines()

    for command, args, code in (
        ("customer", ("show", 999999), "customer_not_found"),
        ("integration", ("show", 999999), "integration_not_found"),
        ("product", ("show", 999999), "product_not_found"),
        ("contract", ("show", 999999), "contract_not_found"),
        ("sva_user", ("show", 999999), "sva_user_not_found"),
    ):
        result = run(command, *args)
        assert result.code == 2, command
        assert result.err.startswith(f"erro [{code}]: "), result.err


# -- integration ---------------------------------------------------------------------------


def test_integration_create_reads_secret_from_env_and_never_prints_credentials(
    exa_account, monkeypatch
):
    monkeypatch.setenv("AGREGA_CLIENT_SECRET", exa_account.client_secret)
    created = ok(
        "integration",
        "create",
        "--name",
        "EXA principal",
        "--platform",
        "exa",
        "--url",
        exa_account.url,
        "--prefix",
        exa_account.prefix,
        "--client-id",
        exa_account.client_id,
        "--auto-create",
        "sim",
        "--json",
    ).json
    assert created["auto_create_users"] is True and created["active"] is True
    assert created["credentials_set"] is True
    integration_id = created["id"]

    for args in (
        ("show", integration_id),
        ("show", integration_id, "--json"),
        ("list",),
        ("list", "--json"),
    ):
        result = ok("integration", *args)
        assert exa_account.client_secret not in result.out
        assert exa_account.client_id not in result.out
    assert "configuradas (nunca exibidas)" in ok("integration", "show", integration_id).out

    monkeypatch.delenv("AGREGA_CLIENT_SECRET")
    checked = ok("integration", "check", integration_id)
    assert checked.out.startswith("ok: ")

    packages = ok("integration", "packages", integration_id, "--json").json
    assert {p["code"] for p in packages} == {"EXA-SEG-BASICO", "EXA-SEG-FAMILIA", "EXA-BACKUP-100"}
    assert "EXA Família" in ok("integration", "packages", integration_id).out

    updated = ok(
        "integration", "update", integration_id, "--auto-create", "nao", "--inactive", "--json"
    ).json
    assert updated["auto_create_users"] is False and updated["active"] is False
    assert ok("integration", "check", integration_id).code == 0  # credentials kept

    # New secret only: the client id stays, the platform now refuses.
    ok("integration", "update", integration_id, "--client-secret", "errado", "--active")
    refused = run("integration", "check", integration_id)
    assert refused.code == 3
    assert refused.err.startswith("erro [")


def test_integration_create_validation_error():
    result = run(
        "integration",
        "create",
        "--name",
        "x",
        "--url",
        "ftp://exa",
        "--prefix",
        "com espaço",
        "--client-id",
        "a",
    )
    assert result.code == 2
    lines = result.err.splitlines()
    assert any(line.startswith("  base_url: [url_invalid] ") for line in lines)
    assert any(line.startswith("  prefix: [prefix_invalid] ") for line in lines)
    assert any(
        line.startswith("  credentials.client_secret: [credential_required] ") for line in lines
    )


def test_integration_check_against_the_sandbox_exit_0_then_3_when_down(integration, sandbox_admin):
    result = run("integration", "check", integration.pk, "--json")
    assert result.code == 0
    assert result.json["ok"] is True and result.json["code"] == "ok"

    sandbox_admin.set_faults(down=True)
    result = run("integration", "check", integration.pk)
    assert result.code == 3
    assert result.err.startswith("erro [")
    assert "Traceback" not in result.err
    result = run("integration", "check", integration.pk, "--json")
    assert result.code == 3 and result.json["ok"] is False

    packages = run("integration", "packages", integration.pk)
    assert packages.code == 3
    assert packages.err.startswith("erro [platform_")


# -- product -------------------------------------------------------------------------------


def test_product_create_update_list_show(integration):
    created = ok(
        "product",
        "create",
        "--name",
        "EXA Segurança",
        "--price",
        "9.9",
        "--fiscal-class",
        "sva",
        "--sva-integration",
        integration.pk,
        "--sva-package",
        "EXA-SEG-BASICO",
        "--json",
    ).json
    assert created["price"] == "9.90" and created["fiscal_class"] == "SVA"
    assert created["sva_integration_id"] == integration.pk and created["warnings"] == []
    product_id = created["id"]

    plain = ok(
        "product", "create", "--name", "Internet 300M", "--price", "99.90", "--fiscal-class", "SCM"
    )
    assert "R$ 99,90" in plain.out and "não é SVA" in plain.out

    duplicate = run(
        "product",
        "create",
        "--name",
        "Outro",
        "--price",
        "1",
        "--sva-integration",
        integration.pk,
        "--sva-package",
        "EXA-SEG-BASICO",
    )
    assert duplicate.code == 2
    assert duplicate.err.startswith("erro [sva_package_in_use]")
    assert "  sva_package_code: [sva_package_in_use]" in duplicate.err

    unknown = run(
        "product",
        "create",
        "--name",
        "Outro",
        "--price",
        "1",
        "--sva-integration",
        integration.pk,
        "--sva-package",
        "NAO-EXISTE",
    )
    assert unknown.code == 2 and unknown.err.startswith("erro [sva_package_unknown]")

    updated = ok(
        "product",
        "update",
        product_id,
        "--price",
        "12.50",
        "--sva-package",
        "EXA-SEG-FAMILIA",
        "--json",
    ).json
    assert updated["price"] == "12.50" and updated["sva_package_code"] == "EXA-SEG-FAMILIA"

    listed = ok("product", "list", "--json").json
    assert [p["id"] for p in listed][:1] == [product_id]
    shown = ok("product", "show", product_id)
    assert "R$ 12,50" in shown.out and "pacote EXA-SEG-FAMILIA" in shown.out

    unlinked = ok("product", "update", product_id, "--no-sva", "--json").json
    assert unlinked["sva_integration_id"] is None and unlinked["sva_package_code"] == ""

    bad = run("product", "create", "--name", "Caro", "--price", "abc", "--fiscal-class", "XYZ")
    assert bad.code == 2
    assert (
        "  price: [amount_invalid] " in bad.err
        and "  fiscal_class: [fiscal_class_invalid] " in bad.err
    )


def test_product_prints_the_service_warning_when_the_catalogue_is_unreachable(
    integration, sandbox_admin
):
    sandbox_admin.set_faults(down=True)
    result = ok(
        "product",
        "create",
        "--name",
        "EXA Backup",
        "--price",
        "5",
        "--sva-integration",
        integration.pk,
        "--sva-package",
        "EXA-BACKUP-100",
    )
    assert "Produto criado." in result.out
    assert result.err.startswith("aviso: Catálogo da plataforma indisponível")

    result = ok(
        "product",
        "create",
        "--name",
        "EXA Família",
        "--price",
        "5",
        "--sva-integration",
        integration.pk,
        "--sva-package",
        "EXA-SEG-FAMILIA",
        "--json",
    )
    assert result.json["warnings"] and "indisponível" in result.json["warnings"][0]


# -- contract + sva_user -------------------------------------------------------------------


def test_contract_flow_create_add_product_activate_converge_sva_user_active(
    integration, make_customer, make_product, exa_account, converge
):
    customer = make_customer()
    product = make_product(integration)
    internet = make_product(name="Internet 500M", price="99.90", fiscal_class="SCM")

    contract = ok(
        "contract",
        "create",
        "--customer",
        customer.pk,
        "--billing-day",
        "15",
        "--description",
        "Plano casa",
        "--json",
    ).json
    contract_id = contract["id"]
    assert (contract["status"], contract["access_status"]) == ("P", "AA")
    assert contract["status_label"] == "Pré-contrato"

    added = ok("contract", "add-product", contract_id, "--product", product.pk, "--json").json
    item = added["products"][-1]
    assert item["kind"] == "SVA" and item["product_id"] == product.pk
    ok("contract", "add-product", contract_id, "--product", internet.pk, "--price", "89.90")

    activated = ok("contract", "activate", contract_id, "--note", "assinado")
    assert (
        f"Contrato {contract_id} — Ativação: status A (Ativo), acesso A (Ativo)." in activated.out
    )

    converge()

    users = ok("sva_user", "list", "--contract", contract_id, "--json").json
    assert len(users) == 1
    user_id = users[0]["id"]
    assert users[0]["contract_product_id"] == item["id"]

    shown = ok("sva_user", "show", user_id)
    lines = shown.out.splitlines()
    assert any(
        line.split(":")[0].strip() == "Na plataforma"
        and line.split(":", 1)[1].strip().startswith("Ativo")
        for line in lines
    ), shown.out
    assert any(line.strip().startswith("Situação:") and "Sincronizado" in line for line in lines)
    assert "Criar usuário (create_user)  POST" in shown.out

    data = ok("sva_user", "show", user_id, "--json").json
    assert data["desired_state"] == "active" and data["confirmed_state"] == "active"
    assert data["sync_status"] == "synced"
    assert any(
        c["operation"] == "create_user" and c["operation_label"] == "Criar usuário"
        and c["status_code"] == 201
        for c in data["timeline"]
    )
    assert exa_account.user(data["external_id"])["status"] == "active"

    full = ok("contract", "show", contract_id, "--json").json
    assert [u["id"] for u in full["sva_users"]] == [user_id]
    assert full["sva_users"][0]["confirmed_state"] == "active"
    assert [p["kind"] for p in full["products"]] == ["SVA", "OUTRO"]
    assert full["products"][1]["price"] == "89.90"
    text = ok("contract", "show", contract_id).out
    assert "Status:            A — Ativo" in text
    assert "Ativação: P/AA → A/A — assinado  (por sistema)" in text


def test_contract_actions_author_invalid_transition_and_list(
    integration, make_customer, make_product, converge
):
    get_user_model().objects.create_user("ana", password="x")
    contract_id = ok("contract", "create", "--customer", make_customer().pk, "--json").json["id"]
    item_id = ok(
        "contract", "add-product", contract_id, "--product", make_product(integration).pk, "--json"
    ).json["products"][0]["id"]

    refused = run("contract", "release", contract_id)
    assert refused.code == 2
    assert refused.err.startswith("erro [invalid_transition]: ")
    assert "status P (Pré-contrato)" in refused.err

    ok("contract", "activate", contract_id, "--as", "ana")
    blocked = ok(
        "contract",
        "block-manual",
        contract_id,
        "--note",
        "pedido do cliente",
        "--as",
        "ana",
        "--json",
    ).json
    assert (blocked["status"], blocked["access_status"]) == ("A", "CM")
    assert blocked["access_status_label"] == "Bloqueio manual"
    event = blocked["events"][0]
    assert event["action"] == "block_manual" and event["actor"] == "ana"
    assert event["detail"] == {"note": "pedido do cliente"}

    unknown_author = run("contract", "release", contract_id, "--as", "ninguem")
    assert unknown_author.code == 2
    assert "  as: [user_not_found] " in unknown_author.err

    for action, expected in (
        ("release", "A"),
        ("mark-overdue", "FA"),
        ("block-automatic", "CA"),
        ("release", "A"),
    ):
        assert ok("contract", action, contract_id, "--json").json["access_status"] == expected
    converge()
    assert (
        ok("sva_user", "list", "--contract", contract_id, "--json").json[0]["confirmed_state"]
        == "active"
    )

    listed = ok("contract", "list", "--status", "a", "--access-status", "A", "--json").json
    assert contract_id in [c["id"] for c in listed]
    assert ok("contract", "list", "--status", "D", "--json").json == []

    removed = ok("contract", "remove-product", contract_id, "--item", item_id, "--json").json
    assert removed["products"][0]["removed_at"] is not None
    converge()
    assert ok("sva_user", "list", "--contract", contract_id, "--json").json == []

    ok("contract", "deactivate", contract_id)
    cancelled = ok("contract", "cancel", contract_id, "--json").json
    assert (cancelled["status"], cancelled["access_status"]) == ("D", "D")
    assert Contract.objects.get(pk=contract_id).status == "D"
    again = run("contract", "add-product", contract_id, "--product", make_product().pk)
    assert again.code == 2 and again.err.startswith("erro [contract_cancelled]")


def test_sva_user_manual_create_sync_delete(
    make_integration, make_customer, make_product, make_contract, exa_account, converge
):
    integration = make_integration(auto_create_users=False)
    product = make_product(integration)
    contract = make_contract(customer=make_customer())
    ok("contract", "activate", contract.pk)
    item_id = ok("contract", "add-product", contract.pk, "--product", product.pk, "--json").json[
        "products"
    ][0]["id"]
    assert ok("sva_user", "list", "--contract", contract.pk, "--json").json == []  # flag = não

    base = ("create", "--contract", contract.pk, "--integration", integration.pk, "--item", item_id)
    mixed = run("sva_user", *base, "--email", "x@example.com")
    assert mixed.code == 2 and mixed.err.startswith("erro [customer_data_conflict]")

    invalid = run(
        "sva_user", *base, "--no-customer-data", "--email", "nao-e-email", "--phone", "1133334444"
    )
    assert invalid.code == 2
    lines = invalid.err.splitlines()
    assert any(line.startswith("  email: [email_invalid] ") for line in lines)
    assert any(line.startswith("  phone: [mobile_not_mobile] ") for line in lines)
    assert any(line.startswith("  document: [document_required] ") for line in lines)
    assert not SvaUser.objects.filter(contract=contract).exists()

    created = ok(
        "sva_user",
        *base,
        "--no-customer-data",
        "--email",
        "app@example.com",
        "--phone",
        "(21) 99876-5432",
        "--document",
        make_cpf(777),
        "--json",
    ).json
    user_id = created["id"]
    assert created["origin"] == "manual" and created["use_customer_data"] is False
    assert created["desired"]["phone"] == "+5521998765432"
    assert created["sync_status"] == "pending"

    pending = ok("sva_user", "list", "--pending", "--json").json
    assert user_id in [u["id"] for u in pending]
    assert "Pendente" in ok("sva_user", "list", "--contract", contract.pk).out

    duplicate = run("sva_user", *base)
    assert duplicate.code == 2 and duplicate.err.startswith("erro [sva_user_exists]")

    converge()
    assert exa_account.user(created["external_id"])["email"] == "app@example.com"
    synced = ok("sva_user", "sync", user_id)
    assert "Sincronização solicitada" in synced.out
    converge()

    deleted = ok("sva_user", "delete", user_id)
    assert "Usuário SVA removido" in deleted.out
    converge()
    assert exa_account.user(created["external_id"]) is None
    shown = ok("sva_user", "show", user_id, "--json").json
    assert shown["sync_status"] == "removed" and shown["deleted_at"] is not None
    assert run("sva_user", "delete", user_id).code == 2


def test_sva_user_show_names_registration_problems(
    integration, make_customer, make_product, make_contract
):
    customer = make_customer(email="", mobile_phone="")
    contract = make_contract(customer=customer)
    ok("contract", "add-product", contract.pk, "--product", make_product(integration).pk)
    ok("contract", "activate", contract.pk)
    user = SvaUser.objects.get(contract=contract)
    shown = ok("sva_user", "show", user.pk)
    assert "Cadastro incompleto" in shown.out
    assert "  email: [email_required] " in shown.out
    assert "  mobile_phone: [mobile_required] " in shown.out


# -- the real console script ---------------------------------------------------------------


def _agrega() -> str:
    beside = Path(sys.executable).with_name("agrega")
    found = str(beside) if beside.exists() else shutil.which("agrega")
    assert found, "console script 'agrega' not installed"
    return found


def test_console_script_entry_point(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'agrega.sqlite3'}",
        "AGREGA_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    agrega = _agrega()

    def sh(*args):
        return subprocess.run(
            [agrega, *args], env=env, check=False, capture_output=True, text=True, timeout=120
        )

    migrated = sh("migrate", "--no-input", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr

    assert json.loads(sh("customer", "list", "--json").stdout) == []
    created = sh(
        "customer",
        "create",
        "--name",
        "Cliente CLI",
        "--document",
        make_cpf(31337),
        "--email",
        "cli@example.com",
        "--mobile-phone",
        "11987654321",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    listed = sh("customer", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [c["name"] for c in json.loads(listed.stdout)] == ["Cliente CLI"]

    invalid = sh("customer", "create", "--name", "X", "--document", "123")
    assert invalid.returncode == 2
    assert invalid.stderr.startswith("erro [validation_failed]: ")
    assert "  document: [document_invalid] " in invalid.stderr
    assert "Traceback" not in invalid.stderr

    alias = sh("sva-user", "list", "--json")
    assert alias.returncode == 0, alias.stderr
    assert json.loads(alias.stdout) == []


def test_integration_options_come_from_each_platforms_declaration(
    sva_platform, platform_account, sandbox_kit, monkeypatch
):
    """Any platform with a sandbox: its credential options (``--<field>``) and variables
    (``AGREGA_<FIELD>`` for secrets) are the connector's declared fields."""
    from agrega.integrations.connectors.registry import connector_class

    fields = platform_account.integration_fields()
    args = ["integration", "create", "--name", f"Conta {sva_platform}", "--platform", sva_platform,
            "--url", fields["base_url"], "--json"]
    if fields["prefix"]:
        args += ["--prefix", fields["prefix"]]
    secrets = []
    for field in connector_class(sva_platform).credential_fields:
        value = fields["credentials"].get(field.name)
        if not value:
            continue
        if field.secret:
            monkeypatch.setenv(field.env, value)  # kept out of the command line
            secrets.append(value)
        else:
            args += [field.option, value]
    created = ok(*args).json
    assert created["credentials_set"] is True and created["platform"] == sva_platform
    for secret in secrets:
        assert secret not in ok("integration", "show", created["id"], "--json").out
    for field in connector_class(sva_platform).credential_fields:
        monkeypatch.delenv(field.env, raising=False)
    assert ok("integration", "check", created["id"]).out.startswith("ok: ")
    packages = ok("integration", "packages", created["id"], "--json").json
    assert [p["code"] for p in packages] == list(sandbox_kit.package_codes)
    from agrega.integrations.management.commands.integration import CREDENTIALS_HELP

    assert all(f.option in CREDENTIALS_HELP for f in connector_class(sva_platform).credential_fields)

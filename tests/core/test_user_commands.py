"""``agrega user …``: user administration without ``agrega shell``; the same rules and
codes as the API and the page (core.services), every change in the audit log."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError
from django.test import Client

from agrega.core.models import ApiToken, ChangeRecord
from agrega.core.roles import assign_role
from tests.cli.helpers import ok, run
from tests.cli.test_commands import _agrega

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    user = get_user_model().objects.create_user("chefe", "chefe@example.com.br", "senha-do-chefe-1")
    assign_role(user, "administrador")
    return user


def with_stdin(monkeypatch, text):
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def create_joana(monkeypatch, *extra):
    with_stdin(monkeypatch, "senha-forte-da-joana\n")
    return ok("user", "create", "joana", "--name", "Joana da Silva", "--email", "joana@example.com.br",
              "--role", "leitura", "--password-stdin", "--as", "chefe", *extra)


def test_create_list_set_role(admin, monkeypatch):
    created = create_joana(monkeypatch, "--json").json
    assert created["role"] == "somente leitura" and created["password"] is None
    assert Client().login(username="joana", password="senha-forte-da-joana")
    listed = ok("user", "list", "--json").json
    assert [(u["username"], u["role"]) for u in listed] == [("chefe", "administrador"), ("joana", "somente leitura")]
    text = ok("user", "list").out
    assert "joana" in text and "Joana da Silva" in text and "2 usuário(s)." in text
    assert ok("user", "set-role", "joana", "operador", "--as", "chefe", "--json").json["role"] == "operador"
    record = ChangeRecord.objects.filter(object_type="auth.user", object_id=str(created["id"])).first()
    assert record.action == "role" and record.actor_label == "chefe"
    assert record.changes == {"role": ["somente leitura", "operador"]}
    assert [u["username"] for u in ok("user", "list", "--role", "operador", "--json").json] == ["joana"]


def test_create_with_generated_password_shows_it_once(admin):
    result = ok("user", "create", "ana", "--name", "Ana", "--email", "ana@example.com.br", "--role", "operador",
                "--generate-password")
    line = next(x for x in result.out.splitlines() if x.startswith("Senha gerada"))
    password = line.rsplit(" ", 1)[-1]
    assert Client().login(username="ana", password=password)
    assert password not in json.dumps([r.changes for r in ChangeRecord.objects.all()])


def test_errors_have_codes_and_exit_2(admin, monkeypatch, settings):
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}}]
    with_stdin(monkeypatch, "curta\n")
    bad = run("user", "create", "joana", "--name", "J", "--email", "x", "--role", "operador", "--password-stdin")
    assert bad.code == 2 and bad.err.startswith("erro [validation_failed]")
    assert "password: [password_too_short]" in bad.err and "email: [email_invalid]" in bad.err
    with_stdin(monkeypatch, "")
    no_tty = run("user", "create", "joana", "--name", "J", "--email", "j@example.com.br", "--role", "operador")
    assert no_tty.code == 2 and "password_required" in no_tty.err
    assert not get_user_model().objects.filter(username="joana").exists()
    missing = run("user", "deactivate", "ninguem", "--json")
    assert missing.code == 2 and missing.json["error"]["code"] == "user_not_found"
    last = run("user", "deactivate", "chefe", "--as", "chefe")
    assert last.code == 2 and last.err.startswith("erro [last_admin]: ")
    demote = run("user", "set-role", "chefe", "operador", "--json")
    assert demote.code == 2 and demote.json["error"]["code"] == "last_admin"
    with pytest.raises(CommandError, match="PAPEL"):  # argparse refuses an unknown role
        run("user", "set-role", "chefe", "chefe")


def test_deactivate_reactivate_tokens_and_revoke(admin, monkeypatch):
    joana_id = create_joana(monkeypatch, "--json").json["id"]
    joana = get_user_model().objects.get(pk=joana_id)
    first, first_raw = ApiToken.issue(user=joana, name="erp")
    second, second_raw = ApiToken.issue(user=joana, name="bi")
    tokens = ok("user", "tokens", "joana", "--json").json
    assert [(t["id"], t["key_prefix"]) for t in tokens] == [(first.pk, first_raw[:12]), (second.pk, second_raw[:12])]
    assert first_raw not in json.dumps(tokens)

    revoked = ok("user", "revoke-token", "joana", first.pk, "--as", "chefe")
    assert f"Token {first.pk}" in revoked.out
    client = Client()
    assert client.get("/api/customers", HTTP_AUTHORIZATION=f"Bearer {first_raw}").status_code == 401
    assert client.get("/api/customers", HTTP_AUTHORIZATION=f"Bearer {second_raw}").status_code == 200
    assert run("user", "revoke-token", "joana", first.pk).code == 2  # already revoked: token_not_found

    assert ok("user", "deactivate", "joana", "--as", "chefe", "--json").json["is_active"] is False
    assert client.get("/api/customers", HTTP_AUTHORIZATION=f"Bearer {second_raw}").status_code == 401
    assert [t["id"] for t in ok("user", "tokens", "joana", "--active-only", "--json").json] == []
    assert ok("user", "reactivate", "joana", "--json").json["is_active"] is True
    actions = list(ChangeRecord.objects.filter(object_type="auth.user", object_id=str(joana_id))
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["create", "token_revoke", "deactivate", "reactivate"]


def test_reset_password(admin, monkeypatch):
    create_joana(monkeypatch)
    with_stdin(monkeypatch, "outra-senha-forte-2\n")
    ok("user", "reset-password", "joana", "--password-stdin", "--as", "chefe")
    assert Client().login(username="joana", password="outra-senha-forte-2")
    data = ok("user", "reset-password", "joana", "--generate-password", "--json").json
    assert data["user"]["username"] == "joana"
    assert Client().login(username="joana", password=data["password"])


def test_the_console_script_reads_the_password_from_a_pipe(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'agrega.sqlite3'}",
           "AGREGA_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def sh(*args, stdin=""):
        return subprocess.run([_agrega(), *args], env=env, input=stdin, capture_output=True, text=True,
                              timeout=120, check=False)

    assert sh("migrate", "--no-input", "-v", "0").returncode == 0
    created = sh("user", "create", "ze", "--name", "Zé", "--email", "ze@example.com.br", "--role", "admin",
                 "--password-stdin", "--json", stdin="senha-do-ze-forte\n")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["role"] == "administrador"
    for sub in ("list", "create", "set-role", "deactivate", "reactivate", "reset-password", "tokens",
                "revoke-token"):
        helped = sh("user", sub, "--help")
        assert helped.returncode == 0 and "--json" in helped.stdout, sub

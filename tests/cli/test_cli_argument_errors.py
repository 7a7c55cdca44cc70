"""Mistyped command lines are answered in Portuguese, like everything else the CLI says:
argparse's own messages ("invalid int value", "the following arguments are required",
"usage:") are translated, and the exit status stays 2. Run as a user runs it: the
``agrega`` program in a process of its own."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import ManagementUtility
from django.core.management.base import CommandError

from agrega.core.management.base import DISPATCHER_WORDS, portuguese_argparse_message

from .helpers import run

ROOT = Path(__file__).resolve().parents[2]
ENGLISH = re.compile(r"\b(usage|error|invalid|argument|required|unrecognized|choose from|expected)\b")


@pytest.mark.parametrize(("argv", "expected"), [
    (["contract", "show", "abc"], "agrega contract show: erro: argumento id: número inteiro inválido: 'abc'"),
    (["contract", "show"], "agrega contract show: erro: faltam argumentos obrigatórios: id"),
    (["demo", "--port", "abc"], "agrega demo: erro: argumento --port: número inteiro inválido: 'abc'"),
    (["invoice"], "agrega invoice: erro: faltam argumentos obrigatórios: SUBCOMANDO"),
    (["invoice", "lst"], "agrega invoice: erro: argumento SUBCOMANDO: opção inválida: 'lst' (aceitas: "),
    (["invoice", "list", "--limit"], "agrega invoice list: erro: argumento --limit: falta o valor"),
    (["invoice", "list", "--bogus", "1"], "agrega invoice: erro: argumentos desconhecidos: --bogus 1"),
    (["invoice", "list", "--status", "xyz"],
     "agrega invoice list: erro: argumento --status: Situação: valor não aceito; use open, paid, cancelled."),
])
def test_the_command_line_errors_read_in_portuguese(tmp_path, argv, expected):
    env = dict(os.environ, PYTHONPATH=str(ROOT), AGREGA_VAR_DIR=str(tmp_path), AGREGA_DEBUG="1")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run([sys.executable, "-m", "agrega.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("uso: agrega "), done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(expected), done.stderr
    assert not ENGLISH.search(last), last


def test_help_reads_in_portuguese():
    env = dict(os.environ, PYTHONPATH=str(ROOT), AGREGA_DEBUG="1")
    done = subprocess.run([sys.executable, "-m", "agrega.cli", "invoice", "list", "--help"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("uso: agrega invoice list ")
    assert "\nopções:\n" in done.stdout and "mostra esta ajuda e sai" in done.stdout


def _agrega_commands() -> list[str]:
    """Every management command Agrega ships (the ``agrega`` program's words)."""
    return sorted(path.stem for path in (ROOT / "agrega").glob("*/management/commands/*.py")
                  if not path.stem.startswith("_"))


DJANGO_ENGLISH = re.compile(r"show this help|Verbosity level|Python path|Display a full stack|colorize|"
                            r"Skip system checks|program's version|positional arguments|^usage:", re.M)


def test_every_commands_help_reads_in_portuguese():
    """Django's own options too (--verbosity, --settings, --traceback…), whose help it writes
    in English. In this process, through the ``agrega`` program's dispatcher (a process per
    command took minutes on a loaded machine; the dispatch is the same)."""
    commands = _agrega_commands()
    assert {"contract", "create_token", "seed_demo", "sva_worker"} <= set(commands)
    for command in commands:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
            ManagementUtility(["agrega", command, "--help"]).execute()
        assert done.value.code == 0, command
        # the word one types: ``agrega worker`` runs sva_worker
        assert out.getvalue().startswith(f"uso: agrega {DISPATCHER_WORDS.get(command, command)} "), out.getvalue()
        assert not DJANGO_ENGLISH.search(out.getvalue()), out.getvalue()


@pytest.mark.django_db
def test_create_token_follows_the_token_rules_and_speaks_portuguese(role_user, monkeypatch):
    """``agrega create_token`` wrote the model directly: a 300-character name reached the
    database (refused only by PostgreSQL, with a traceback). It now goes through the
    service the API and the page use, and its errors read ``erro: …`` (through the
    ``agrega`` program's dispatcher, as on the command line)."""
    from agrega.core.models import ApiToken

    role_user("dona-do-token", "operador")
    # run_from_argv closes every connection when it ends (a process would exit next); here
    # that would close the test's own database under it
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)

    def agrega(*argv):
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                ManagementUtility(["agrega", *argv]).execute()
            except SystemExit as exc:
                code = exc.code
        return code, out.getvalue(), err.getvalue().strip()

    assert agrega("create_token", "dona-do-token", "--name", "x" * 300) == \
        (1, "", "erro: Nome do token: muito longo (300 caracteres; máximo 100).")
    assert agrega("create_token", "ninguem") == (1, "", "erro: Usuário 'ninguem' não existe.")
    assert not ApiToken.objects.exists()
    code, out, err = agrega("create_token", "dona-do-token", "--name", "erp")
    assert code == 0 and err == "" and ApiToken.objects.get().name == "erp"
    assert ApiToken.objects.get().key_prefix == out.strip()[:12]


@pytest.mark.django_db
def test_called_from_code_it_raises_in_portuguese():
    with pytest.raises(CommandError, match=r"^Erro: argumento id: número inteiro inválido: 'abc'$"):
        run("contract", "show", "abc")


def test_a_message_it_does_not_know_passes_unchanged():
    assert portuguese_argparse_message("argument --limit: deve ser um número inteiro maior que zero") == \
        "argumento --limit: deve ser um número inteiro maior que zero"
    assert portuguese_argparse_message("algo novo") == "algo novo"

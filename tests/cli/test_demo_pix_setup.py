"""The demo's PIX part says which step failed and why, in Portuguese, and the demo goes
on (``agrega.cli._setup_pix_demo``; the whole demo, PIX included, runs in
test_demo_service.py). Real HTTP: a port nobody listens on, and the PSP sandbox refusing
a webhook address."""

from __future__ import annotations

import socket

import pytest

from agrega.cli import _setup_pix_demo
from agrega.pix.models import PixAccount, PixRecurrence

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_psp_that_does_not_answer_is_named_in_the_banner(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    lines = _setup_pix_demo(f"http://127.0.0.1:{port}", "http://127.0.0.1:8000", "EXA")
    assert lines == ("  PIX: falhou ao criar a conta do provedor no PSP sandbox: o PSP sandbox não respondeu "
                     "(ConnectError)\n")
    assert "PIX da demo: falhou ao criar a conta do provedor no PSP sandbox" in capsys.readouterr().err
    assert not PixAccount.objects.exists()


def test_each_failed_step_is_said_and_the_others_still_run(pix_sandbox, capsys):
    lines = _setup_pix_demo(pix_sandbox.root, "sem-esquema", "EXA")
    assert f"PSP sandbox (PIX):   {pix_sandbox.root}/" in lines  # the account was made
    assert PixAccount.objects.filter(client_id="agrega-demo").exists()
    assert "PIX: falhou ao registrar o webhook no PSP: Informe o endereço público do Agrega (https://…)." in lines
    assert "PIX: nenhum contrato ativo para o Pix Automático da demo." in lines  # the next steps ran
    assert not PixRecurrence.objects.exists()
    assert "falhou ao registrar o webhook" in capsys.readouterr().err

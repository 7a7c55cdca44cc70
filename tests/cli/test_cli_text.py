"""The CLI meets the same rule for free text as the API (through the services)."""

from __future__ import annotations

import pytest

from agrega.core.br import make_cpf
from agrega.customers.models import Customer

from .helpers import run

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("name", "code"), [("x" * 100_000, "text_too_long"), ("Maria\x1bSouza", "text_control_chars"),
                                            ("\u200b\u00a0", "text_blank")])
def test_customer_create_refuses_bad_names(name, code):
    result = run("customer", "create", "--name", name, "--document", make_cpf(77))
    assert result.code == 2
    assert f"  name: [{code}] " in result.err
    assert not Customer.objects.exists()


def test_customer_create_trims_invisible_characters():
    result = run("customer", "create", "--name", "\u200bMaria Souza\u00a0", "--document", make_cpf(78))
    assert result.code in (0, None), result.err
    assert Customer.objects.get().name == "Maria Souza"

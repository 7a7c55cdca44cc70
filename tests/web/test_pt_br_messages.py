"""Portuguese to the last page (issue 20, item 7): the confirmation of a contract's
transition agrees with its noun ("Bloqueio manual registrado", "Inativação registrada"),
and the two status badges say which is which ("Contrato: A — Ativo", "Acesso: …")."""

from __future__ import annotations

import pytest
from django.test import Client

from agrega.contracts.choices import ContractAction
from agrega.contracts.views import ACTION_DONE


@pytest.fixture
def operator(role_user):
    client = Client()
    client.force_login(role_user("msg-operador", "operador"))
    return client


def test_every_transition_has_its_own_confirmation():
    from agrega.contracts.services import TRANSITIONS

    assert set(TRANSITIONS) <= set(ACTION_DONE)
    assert ACTION_DONE[ContractAction.BLOCK_MANUAL] == "Bloqueio manual registrado."
    assert ACTION_DONE[ContractAction.DEACTIVATE] == "Inativação registrada."


def test_block_release_confirmed_in_good_portuguese_with_labelled_badges(operator, make_contract, make_product):
    from agrega.contracts.services import contract_activate, contract_add_product

    contract = make_contract()
    contract_add_product(contract=contract, product_id=make_product(fiscal_class="SCM").pk)
    contract_activate(contract=contract)
    url = f"/contratos/{contract.pk}/"

    page = operator.get(url).content.decode()
    assert "Contrato: A — Ativo" in page and "Acesso: A — Ativo" in page

    confirm = operator.get(f"{url}acao/block_manual/").content.decode()
    assert "Acesso: CM — Bloqueio manual" in confirm  # the target, labelled too

    done = operator.post(f"{url}acao/block_manual/", {"note": "pedido do cliente"}, follow=True).content.decode()
    assert "Bloqueio manual registrado." in done and "registrada" not in done.split("Bloqueio manual")[1][:30]
    assert "Acesso: CM — Bloqueio manual" in done

    done = operator.post(f"{url}acao/release/", {"note": ""}, follow=True).content.decode()
    assert "Desbloqueio registrado." in done and "Acesso: A — Ativo" in done

    listing = operator.get("/contratos/").content.decode()
    assert "Contrato: A — Ativo" in listing and "Acesso: A — Ativo" in listing

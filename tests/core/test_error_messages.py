"""Error messages read as Portuguese, not as templates: "não encontrado" agrees with what
was not found."""

import pytest

from agrega.core.errors import NotFound


@pytest.mark.parametrize(("what", "message"), [
    ("Título", "Título não encontrado."),
    ("Cliente", "Cliente não encontrado."),
    ("Pix Automático", "Pix Automático não encontrado."),
    ("Cobrança PIX", "Cobrança PIX não encontrada."),
    ("Integração SVA", "Integração SVA não encontrada."),
    ("NFCom do título", "NFCom do título não encontrada."),
    ("Régua de cobrança", "Régua de cobrança não encontrada."),
    ("Tarefa", "Tarefa não encontrada."),
])
def test_not_found_agrees_with_the_noun(what, message):
    assert NotFound(what).message == message


def test_the_gender_can_be_given():
    assert NotFound("Chave", feminine=True).message == "Chave não encontrada."
    assert NotFound("Chave", feminine=False).message == "Chave não encontrado."

"""CPF/CNPJ in imported files: the alphanumeric CNPJ is taken however it is typed, and
each refused document names its reason on its line."""

from __future__ import annotations

import pytest

from agrega.customers.models import Customer
from agrega.imports import services
from agrega.core.csvio import read_table
from agrega.imports.layout import guess_mapping

from .helpers import csv_bytes, row

pytestmark = pytest.mark.django_db


def dry_run(content: bytes) -> dict:
    table = read_table(content)
    return services.validate_file(table=table, mapping=guess_mapping(table.headers))


def messages(report, line: int) -> list[dict]:
    return next(e for e in report["lines"] if e["line"] == line)["messages"]


def test_alphanumeric_cnpj_is_imported_and_each_bad_document_names_its_reason():
    content = csv_bytes([
        row(1, cpf_cnpj="12.abc.345/01de-35"),   # line 2: good, lower case
        row(2, cpf_cnpj="12.ABC.345/01DE-36"),   # line 3: check digits
        row(3, cpf_cnpj="12.ABC.345/01DE"),      # line 4: length
        row(4, cpf_cnpj="12.ABC.345/01DE*35"),   # line 5: a character no document has
        row(5, cpf_cnpj="529.982.247-2A"),       # line 6: a letter in a CPF
        row(6, cpf_cnpj="222.222.222-22"),       # line 7: all the same digit
    ])
    report = dry_run(content)
    assert report["applied"] == 1 and report["rejected"] == 5
    expected = {3: ("cnpj_invalid", "dígitos verificadores"), 4: ("document_invalid", "tamanho errado"),
                5: ("document_invalid_character", "«*»"), 6: ("document_invalid_character", "só números"),
                7: ("document_same_digits", "todos os dígitos iguais")}
    for line, (code, words) in expected.items():
        (message,) = messages(report, line)
        assert message["code"] == code and words in message["message"], (line, message)

    job = services.import_job_create(file_name="clientes.csv", content=content, mapping=None, actor=None)
    job = services.import_job_run(job_id=job.pk, batch_size=500)
    assert job.applied == 1
    customer = Customer.objects.get()
    assert (customer.document, customer.person_type) == ("12ABC34501DE35", "J")


# EXA's own rule, on the exa_* fixtures
def test_a_line_whose_customer_exa_cannot_take_is_refused_only_with_an_exa_product(integration, make_product):
    sva = make_product(integration, name="EXA Segurança")
    internet = make_product(name="Fibra 300", price="89.90", fiscal_class="SCM")
    content = csv_bytes([
        row(1, email="joão@exemplo.com.br", produtos=f"{sva.pk}"),                 # line 2: refused
        row(2, nome="Loja 😀", produtos=f"{sva.pk}|{internet.pk}"),                 # line 3: refused
        row(3, email="joão@exemplo.com.br", produtos=f"{internet.pk}"),            # line 4: no SVA user
        row(4, email="maria@café.com.br", produtos=f"{sva.pk}"),                   # line 5: punycode: fine
    ])
    report = dry_run(content)
    assert report["applied"] == 2 and report["rejected"] == 2
    (email,) = messages(report, 2)
    assert (email["field"], email["code"]) == ("email", "email_local_not_accepted")
    assert "A plataforma EXA não aceita acentos" in email["message"]
    (name,) = messages(report, 3)
    assert (name["field"], name["code"]) == ("nome", "name_character_not_accepted")
    assert not [m for m in messages_or_empty(report, 4) if m["level"] == "error"]


def messages_or_empty(report, line: int) -> list[dict]:
    return next((e["messages"] for e in report["lines"] if e["line"] == line), [])

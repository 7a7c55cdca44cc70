"""The project's one CSV reader (core.csvio.read_table), as the customer import and the
payment import both use it: encodings, BOM, delimiter, header names, limits."""

from decimal import Decimal

import pytest

from agrega.core.csvio import normalise_header, read_table
from agrega.core.errors import ApplicationError
from agrega.core.money import parse_decimal


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_reads_each_encoding_brazilian_files_come_in(encoding):
    text = "Título;Razão Social\r\n1;João Ação\r\n"
    table = read_table(text.encode(encoding))
    assert table.headers == ["Título", "Razão Social"]
    assert [cells for _, _, cells in table.records()] == [["1", "João Ação"]]
    assert table.normalised_headers() == ["titulo", "razao_social"]


def test_bom_is_not_part_of_the_first_header():
    table = read_table("\ufeffid_pagamento,valor\n7,\"1.234,56\"\n".encode())
    assert table.encoding == "utf-8-sig" and table.headers[0] == "id_pagamento"


@pytest.mark.parametrize(("header", "delimiter"), [("a;b;c", ";"), ("a,b,c", ","), ("a\tb\tc", "\t"),
                                                   ("a;b,c", ";"), ("a,b,c;d", ",")])
def test_delimiter_is_sniffed_from_the_header(header, delimiter):
    assert read_table(f"{header}\n1\n".encode()).delimiter == delimiter


def test_blank_lines_are_skipped_and_line_numbers_kept():
    table = read_table(b"\n\na;b\n1;2\n\n3;4\n")
    assert table.headers == ["a", "b"]
    assert [(i, line, cells) for i, line, cells in table.records()] == [(0, 4, ["1", "2"]), (1, 6, ["3", "4"])]
    assert [i for i, _, _ in table.records(start=1)] == [1] and table.count() == 2


@pytest.mark.parametrize(("content", "kwargs", "code"), [
    (b"", {}, "file_empty"), (b"  \n \n", {}, "file_empty"),
    (b"a;b\n" + b"1;2\n" * 100, {"max_bytes": 64}, "file_too_large"),
    (b";;\n1;2;3\n", {}, "file_no_header"),
])
def test_refusals_have_a_stable_code(content, kwargs, code):
    with pytest.raises(ApplicationError) as exc:
        read_table(content, **kwargs)
    assert exc.value.code == code and exc.value.status_code == 422


@pytest.mark.parametrize(("text", "name"), [("  Razão  Social ", "razao_social"), ("DATA-PAGAMENTO", "data_pagamento"),
                                            ("Nº do contrato", "no_do_contrato")])
def test_header_names_compare_without_case_accents_or_punctuation(text, name):
    assert normalise_header(text) == name


@pytest.mark.parametrize(("text", "number"), [("3,65", "3.65"), ("1.234,5", "1234.5"), ("0.650", "0.650"),
                                              ("25", "25"), (" 2 ", "2")])
def test_parse_decimal_reads_pt_br_numbers(text, number):
    assert parse_decimal(text) == Decimal(number)


@pytest.mark.parametrize("text", ["", "abc", "NaN", "Infinity", "1,2,3", None, True])
def test_parse_decimal_refuses_what_is_no_number(text):
    with pytest.raises(ValueError):
        parse_decimal(text)

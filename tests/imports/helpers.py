"""Helpers for the import tests: CSV files written as an ISP's spreadsheet would, and
counts of every table (to prove a dry run or a bad line writes nothing)."""

from __future__ import annotations

from django.apps import apps
from django.db import connection

from agrega.core.br import make_cnpj, make_cpf
from agrega.core.bulk import quote

HEADER = ["contrato_ref", "nome", "cpf_cnpj", "email", "celular", "cidade", "uf", "dia_vencimento", "status",
          "produtos", "plano", "cep"]


def row(n: int, **kw) -> dict:
    data = {
        "contrato_ref": f"CT-{n:06d}",
        "nome": f"Cliente Importado {n}",
        "cpf_cnpj": make_cpf(900000 + n),
        "email": f"imp{n}@example.com.br",
        "celular": f"(11) 9{n % 100000000:08d}",
        "cidade": "Campinas",
        "uf": "SP",
        "dia_vencimento": "10",
        "status": "P",
        "produtos": "",
        "plano": "",
        "cep": "",
    }
    data.update(kw)
    return data


def csv_bytes(rows: list[dict], *, delimiter: str = ";", encoding: str = "utf-8", header: list[str] | None = None,
              bom: bool = False) -> bytes:
    header = header or HEADER
    lines = [delimiter.join(header)]
    for r in rows:
        cells = []
        for name in header:
            value = str(r.get(name, ""))
            if delimiter in value or '"' in value:
                value = '"' + value.replace('"', '""') + '"'
            cells.append(value)
        lines.append(delimiter.join(cells))
    text = "\r\n".join(lines) + "\r\n"
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def table_counts(*, exclude_apps: tuple[str, ...] = ()) -> dict[str, int]:
    """Rows in every table of every installed model (Django's own too)."""
    counts = {}
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            if model._meta.app_label in exclude_apps or model._meta.proxy or not model._meta.managed:
                continue
            table = model._meta.db_table
            cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


__all__ = ["HEADER", "row", "csv_bytes", "table_counts", "make_cnpj"]

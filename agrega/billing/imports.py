"""Payments from a file (the bank's or the collector's return file, as CSV).

Layout (docs/payments.md): a header row naming the columns ``id_pagamento``, ``titulo``,
``valor`` and ``data_pagamento`` (any order, other columns ignored); ``;`` or ``,`` as
delimiter (detected); UTF-8 with or without BOM, or latin-1; ``valor`` as ``109,90`` or
``109.90``; ``data_pagamento`` as ``dd/mm/aaaa`` or ``aaaa-mm-dd``.

Each line is applied in its own savepoint: a bad line is reported (line number, code,
Portuguese message) and changes nothing; a good line applies once, however many times
the file is imported (the payment id is unique per provider)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from agrega.core.audit import actor_label
from agrega.core.csvio import read_table
from agrega.core.errors import ApplicationError, FieldErrors
from agrega.core.money import parse_amount
from agrega.core.text import clean_text_into, is_forbidden

from .models import PaymentImport, PaymentMethod
from .services import payment_register

COLUMNS = ("id_pagamento", "titulo", "valor", "data_pagamento")
MAX_BYTES = 10 * 1024 * 1024
MAX_LINES = 100_000

APPLIED, DUPLICATE, REJECTED = "applied", "duplicate", "rejected"
STATUS_LABELS = {APPLIED: "Aplicado", DUPLICATE: "Já aplicado", REJECTED: "Recusado"}


def parse_date(text: str) -> date:
    text = text.strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ApplicationError("date_invalid", f"Data inválida: {text!r}. Use dd/mm/aaaa ou aaaa-mm-dd.")


def _rows(content: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The normalised header and the ``(line, cells)`` of each record, read by the project's
    CSV reader (``core.csvio``); refused when a column is missing or the file is too long."""
    table = read_table(content, max_bytes=MAX_BYTES)
    header = table.normalised_headers()
    rows = []
    for _, line_no, row in table.records():
        rows.append((line_no, row))
        if len(rows) > MAX_LINES:
            raise ApplicationError("file_too_large", f"O arquivo tem mais de {MAX_LINES} linhas; divida-o.")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ApplicationError(
            "header_invalid",
            f"Cabeçalho sem as colunas: {', '.join(missing)}. A primeira linha deve ser "
            f"{';'.join(COLUMNS)} (separador ; ou ,).",
        )
    return header, rows


def payments_import_csv(*, content: bytes, file_name: str, provider: str, actor=None) -> PaymentImport:
    """Apply every good line of the file once and store the per-line report."""
    errors = FieldErrors()
    provider = clean_text_into(errors, "provider", PaymentImport, "provider", provider, label="Origem")
    if provider == "":
        errors.add("provider", "required", "Informe a origem dos pagamentos (ex.: o banco).")
    if not content:
        errors.add("file", "file_empty", "O arquivo está vazio.")
    elif len(content) > MAX_BYTES:
        errors.add("file", "file_too_large", f"O arquivo passa de {MAX_BYTES // (1024 * 1024)} MB.")
    errors.raise_if_any()
    header, rows = _rows(content)
    index = {name: header.index(name) for name in COLUMNS}
    with transaction.atomic():
        record = PaymentImport.objects.create(
            file_name=_file_name(file_name), sha256=hashlib.sha256(content).hexdigest(),
            provider=provider, actor_label=actor_label(actor),
        )
        seen: dict[str, tuple[int, tuple]] = {}
        report = []
        for line_no, row in rows:
            entry = _apply_line(row, line_no, index, provider, actor, record, seen)
            report.append(entry)
        record.report = report
        record.lines_total = len(report)
        record.lines_applied = sum(1 for e in report if e["status"] == APPLIED)
        record.lines_duplicate = sum(1 for e in report if e["status"] == DUPLICATE)
        record.lines_rejected = sum(1 for e in report if e["status"] == REJECTED)
        record.save()
    return record


def _file_name(name: str | None) -> str:
    """The name as given, cut to the column and without control characters (it is only shown)."""
    name = "".join("\ufffd" if is_forbidden(c) else c for c in (name or "")).strip()
    return name[:200] or "pagamentos.csv"


def _apply_line(row, line_no, index, provider, actor, record, seen) -> dict:
    forbidden = next((c for cell_text in row for c in cell_text if is_forbidden(c, multiline=False)), None)
    if forbidden:  # shown in the report without it (a NUL cannot even be stored there)
        row = ["".join("\ufffd" if is_forbidden(c) else c for c in cell_text) for cell_text in row]

    def cell(name):
        position = index[name]
        return row[position].strip() if position < len(row) else ""

    entry = {"line": line_no, "external_id": cell("id_pagamento"), "invoice_id": None, "amount": cell("valor"),
             "paid_on": cell("data_pagamento"), "status": REJECTED, "code": "", "message": "", "payment": None}

    def reject(code, message):
        entry.update(code=code, message=message)
        return entry

    if max(index.values()) >= len(row):
        return reject("line_invalid", f"A linha tem {len(row)} coluna(s), menos do que o cabeçalho pede.")
    if forbidden:
        return reject("text_control_chars", f"A linha contém caractere de controle (U+{ord(forbidden):04X}), que não "
                      "é aceito em nenhuma coluna.")
    external_id = entry["external_id"]
    if not external_id:
        return reject("payment_id_missing",
                      "Sem id_pagamento: cada pagamento precisa do seu id para ser aplicado uma vez só.")
    if len(external_id) > 120:
        return reject("external_id_invalid", "id_pagamento longo demais (máx. 120).")
    invoice_text = cell("titulo").lstrip("#")
    if not invoice_text.isdigit():
        return reject("invoice_invalid", f"Título inválido: {cell('titulo')!r} (informe o número do título).")
    entry["invoice_id"] = invoice_id = int(invoice_text)
    try:
        amount = parse_amount(cell("valor"))
        paid_on = parse_date(cell("data_pagamento"))
    except ApplicationError as exc:
        return reject(exc.code, exc.message)
    entry["amount"], entry["paid_on"] = str(amount), paid_on.isoformat()
    data = (invoice_id, amount, paid_on)
    if external_id in seen:
        first_line, first_data = seen[external_id]
        if first_data != data:
            return reject("duplicate_in_file",
                          f"O id {external_id} já aparece na linha {first_line} com outros dados "
                          "(título, valor ou data).")
        entry.update(status=DUPLICATE, code="duplicate_in_file",
                     message=f"Repetido da linha {first_line}: aplicado uma vez só.")
        return entry
    try:
        with transaction.atomic():
            outcome = payment_register(
                invoice_id=invoice_id, amount=amount, paid_on=paid_on, method=PaymentMethod.CSV,
                provider=provider, external_id=external_id, actor=actor, payment_import=record,
            )
    except ApplicationError as exc:
        if exc.fields:  # one field at fault (amount, paid_on): its own code and message
            first = next(e for errs in exc.fields.values() for e in errs)
            return reject(first.code, "; ".join(e.message for errs in exc.fields.values() for e in errs))
        if exc.code == "invoice_not_found":
            return reject(exc.code, f"Título {invoice_id} não encontrado.")
        return reject(exc.code, exc.message)
    seen[external_id] = (line_no, data)  # only lines that applied: a refused one may be retried below
    entry["payment"] = outcome.payment.pk
    if outcome.created:
        entry.update(status=APPLIED, code="applied", message=f"Pagamento aplicado ao título {invoice_id}.")
    else:
        earlier = outcome.payment
        entry.update(status=DUPLICATE, code="already_applied",
                     message=f"Já aplicado (pagamento {earlier.pk}, registrado em "
                             f"{timezone.localtime(earlier.created_at):%d/%m/%Y}); nada mudou.")
    return entry

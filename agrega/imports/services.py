"""Importação de clientes e contratos: create a job from a file, dry-run it (writes
nothing), run it (each batch of lines in one transaction, falling back to one line per
transaction when a batch fails), pause and resume it.

Guarantees (docs/imports.md):

* a bad line changes nothing: it is rejected before any write, and a line whose writes
  fail is retried alone and rolled back alone;
* exactly once: a contract reference (``contrato_ref``) becomes an ``ExternalRef``
  (unique) in the transaction that creates the contract, so importing the same file
  again skips every line already applied;
* resume: ``ImportJob.next_index`` moves in the same transaction as the lines it counts,
  so a killed process continues at the first line it had not committed.

The fast path writes the rows the customer and contract services would write (the
customer, its audit record, the contract, its products, the Histórico events) in bulk,
after the same checks (``validation.py``); activation goes through
``contract_activate`` line by line, so the SVA users follow the usual flow (automatic
creation, consent, registration check)."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from itertools import islice

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from agrega.contracts.services import contract_activate, contracts_create_many, sva_account_refusal
from agrega.core.audit import actor_label
from agrega.core.bulk import insert_dicts
from agrega.core.errors import ApplicationError, Conflict, InvalidTransition, NotFound
from agrega.core.models import ChangeRecord
from agrega.core.csvio import Table, read_table
from agrega.core.uploads import check_size
from agrega.customers.models import Customer
from agrega.customers.services import customers_create_many

from .layout import check_mapping, column_indexes, guess_mapping, pick
from .models import ExternalRef, ImportFile, ImportJob, ImportRow, ImportStatus, RowStatus
from .validation import ERROR, INFO, WARNING, Catalog, Line, customer_differences, message, parse_line

log = logging.getLogger("agrega.imports")

BATCH_SIZE = 500
VALIDATE_CHUNK = 1000
LEASE_SECONDS = 60
# A dry run or import of at most this many lines may run inside the request (?wait=true,
# POST /imports/dry-run); a larger one always runs in the background with its progress.
SYNC_MAX_LINES = 2000
# Statuses from which a run may start (RUNNING only when its runner is gone).
RUNNABLE = (ImportStatus.UPLOADED, ImportStatus.VALIDATED, ImportStatus.PAUSED, ImportStatus.FAILED)

PROGRESS_FIELDS = ["status", "next_index", "applied", "rejected", "skipped_duplicate", "warnings",
                   "customers_created", "heartbeat_at"]
Progress = Callable[[ImportJob], None]


class LeaseLost(Exception):
    """Another runner took the job over (or it was paused and resumed elsewhere)."""


# ---------------------------------------------------------------- creating a job

def file_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@transaction.atomic
def import_job_create(*, file_name: str, content: bytes, mapping: dict | None = None, actor=None) -> ImportJob:
    """Keep the file and what was detected in it (encoding, separator, headers, a
    mapping guessed from the headers unless one is given). Writes only the job."""
    check_size(len(content))  # bounded while streaming already (core/uploads.py); bytes given directly too
    table = read_table(content)
    if mapping is not None:
        mapping = check_mapping(mapping, table.headers)
    else:
        mapping = guess_mapping(table.headers)
    job = ImportJob.objects.create(
        file_name=(file_name or "arquivo.csv")[:255],
        sha256=file_digest(content),
        size_bytes=len(content),
        encoding=table.encoding,
        delimiter=table.delimiter,
        headers=table.headers,
        mapping=mapping,
        total_lines=table.count(),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        created_by_label=actor_label(actor),
    )
    ImportFile.objects.create(job=job, content=content)
    return job


def import_job_set_mapping(*, job: ImportJob, mapping: dict, actor=None) -> ImportJob:
    """A new column mapping; the previous dry run no longer holds."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status not in (ImportStatus.UPLOADED, ImportStatus.VALIDATED):
            raise InvalidTransition("import_started", "A importação já começou: o mapeamento não pode mudar.")
        job.mapping = check_mapping(mapping, job.headers)
        job.status, job.report, job.validated_index, job.validated_at = ImportStatus.UPLOADED, {}, 0, None
        job.save(update_fields=["mapping", "status", "report", "validated_index", "validated_at", "updated_at"])
    return job


def import_job_request_validation(*, job: ImportJob, actor=None) -> ImportJob:
    """Queue the dry run (the interface's "Simular"): VALIDATING without a runner, taken
    by the task the page enqueues (imports/tasks.py) or by ``run_due_imports``."""
    if not ImportJob.objects.filter(pk=job.pk, status__in=(ImportStatus.UPLOADED, ImportStatus.VALIDATED)).update(
            status=ImportStatus.VALIDATING, runner="", heartbeat_at=None, validated_index=0, error_message=""):
        job.refresh_from_db()
        raise InvalidTransition("import_not_validatable",
                                f"A importação está {job.get_status_display().lower()}: não pode ser simulada agora.")
    return ImportJob.objects.get(pk=job.pk)


def previous_import_of(job: ImportJob) -> ImportJob | None:
    """An earlier job of the same file (same SHA-256), to warn before a re-import."""
    return ImportJob.objects.filter(sha256=job.sha256, pk__lt=job.pk).exclude(applied=0).order_by("-pk").first()


# ---------------------------------------------------------------- reading lines

def _load(job: ImportJob) -> tuple[Table, dict[str, int]]:
    content = bytes(ImportFile.objects.get(job=job).content)
    table = read_table(content)
    return table, column_indexes(check_mapping(job.mapping, table.headers), table.headers)


def first_index_of_refs(table: Table, indexes: dict[str, int]) -> dict[str, int]:
    """Each contract reference → the first record that has it (repeats are rejected)."""
    column = indexes["contrato_ref"]
    first: dict[str, int] = {}
    for index, _, cells in table.records():
        ref = cells[column].strip() if column < len(cells) else ""
        if ref:
            first.setdefault(ref, index)
    return first


def _chunks(iterable: Iterable, size: int) -> Iterator[list]:
    it = iter(iterable)
    while chunk := list(islice(it, size)):
        yield chunk


def _parse(records, indexes, catalog, first_index) -> list[Line]:
    return [parse_line(index, line_no, pick(cells, indexes), catalog, first_index)
            for index, line_no, cells in records]


def _look_up(lines: list[Line]) -> dict[str, dict]:
    """What the database already has for these lines: contract references imported
    before (the line is skipped) and customers with the same CPF/CNPJ (reused; a warning
    when the file's data differs). Returns the existing customers by document."""
    good = [line for line in lines if line.ok]
    imported = dict(ExternalRef.objects.filter(kind=ExternalRef.Kind.CONTRACT, ref__in=[l.ref for l in good])
                    .values_list("ref", "object_id"))
    for line in good:
        if line.ref in imported:
            line.duplicate_of = imported[line.ref]
            line.messages.append(message("contrato_ref", "already_imported",
                                         f"'{line.ref}' já importado (contrato {imported[line.ref]}): nada muda.", INFO))
    documents = {line.customer["document"] for line in good if line.duplicate_of is None}
    existing = {c["document"]: c for c in Customer.objects.filter(document__in=documents)
                .values("id", "document", "name", "email", "mobile_phone")}
    for line in good:
        found = existing.get(line.customer["document"])
        if found and line.duplicate_of is None:
            differs = customer_differences(line, found)
            if differs:
                line.messages.append(message(
                    "cpf_cnpj", "customer_exists_differs",
                    f"cliente já cadastrado (ID {found['id']}) com {', '.join(differs)} diferente(s) do "
                    "arquivo: o cadastro não é alterado.", WARNING))
    return existing


def _status_of(line: Line) -> str:
    if not line.ok:
        return RowStatus.REJECTED
    if line.duplicate_of is not None:
        return RowStatus.SKIPPED_DUPLICATE
    return RowStatus.APPLIED


# ---------------------------------------------------------------- dry run

def validate_file(*, table: Table, mapping: dict, progress: Callable[[int, int], None] | None = None,
                  chunk: int = VALIDATE_CHUNK) -> dict:
    """The dry run: every line's problems and what the import would do. Reads only."""
    indexes = column_indexes(check_mapping(mapping, table.headers), table.headers)
    catalog = Catalog()
    first_index = first_index_of_refs(table, indexes)
    total = sum(1 for _ in table.records())
    report = {"total": total, "applied": 0, "rejected": 0, "skipped_duplicate": 0, "warnings": 0,
              "customers_new": 0, "customers_existing": 0, "activations": 0, "products": 0, "lines": []}
    new_documents: set[str] = set()
    reused: set[str] = set()
    done = 0
    for records in _chunks(table.records(), chunk):
        lines = _parse(records, indexes, catalog, first_index)
        existing = _look_up(lines)
        for line in lines:
            status = _status_of(line)
            report[status] += 1
            if status == RowStatus.APPLIED:
                document = line.customer["document"]
                if document in existing:
                    reused.add(document)
                elif document not in new_documents:
                    new_documents.add(document)
                report["activations"] += line.activate
                report["products"] += len(line.products)
                report["warnings"] += line.has_warnings
            if line.messages:
                report["lines"].append({"line": line.line, "ref": line.ref, "status": status,
                                        "messages": line.messages})
        done += len(lines)
        if progress:
            progress(done, total)
    report["customers_new"], report["customers_existing"] = len(new_documents), len(reused)
    return report


def import_job_validate(*, job_id: int, progress: Progress | None = None) -> ImportJob:
    """The dry run of a stored job (for the interface): keeps the report on the job and
    marks it "simulação pronta". Writes nothing but the job."""
    runner = runner_id()
    now = timezone.now()
    free = Q(status__in=(ImportStatus.UPLOADED, ImportStatus.VALIDATED)) | Q(
        Q(runner="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - timedelta(seconds=LEASE_SECONDS)),
        status=ImportStatus.VALIDATING)
    if not ImportJob.objects.filter(free, pk=job_id).update(
            status=ImportStatus.VALIDATING, runner=runner, heartbeat_at=now, validated_index=0):
        job = import_job_get(job_id)
        raise InvalidTransition("import_not_validatable",
                                f"A importação {job_id} está {job.get_status_display().lower()}: não pode ser simulada agora.")
    job = ImportJob.objects.get(pk=job_id)

    def step(done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id, runner=runner).update(validated_index=done, heartbeat_at=timezone.now())
        if progress:
            job.validated_index = done
            progress(job)

    try:
        table, _ = _load(job)
        report = validate_file(table=table, mapping=job.mapping, progress=step)
    except ApplicationError as exc:
        ImportJob.objects.filter(pk=job_id, runner=runner).update(
            status=ImportStatus.UPLOADED, runner="", error_message=exc.message[:500])
        raise
    ImportJob.objects.filter(pk=job_id, runner=runner).update(
        status=ImportStatus.VALIDATED, runner="", report=report, validated_index=report["total"],
        validated_at=timezone.now(), error_message="")
    return ImportJob.objects.get(pk=job_id)


# ---------------------------------------------------------------- running

def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _runner_is_dead(runner: str) -> bool:
    """True when the runner was a process on this machine that no longer exists (a
    killed import can be resumed at once instead of waiting for its lease to expire)."""
    parts = runner.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # A zombie (killed, not yet reaped by its parent) still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False


def _claim(job_id: int, runner: str) -> ImportJob:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound("Importação", "import_not_found")
    if job.status == ImportStatus.DONE:
        raise InvalidTransition("import_done", f"A importação {job_id} já foi concluída.")
    if job.status == ImportStatus.VALIDATING:
        raise InvalidTransition("import_validating", f"A importação {job_id} ainda está sendo simulada.")
    now = timezone.now()
    free = Q(status__in=RUNNABLE) | Q(status=ImportStatus.RUNNING) & (
        Q(runner="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - timedelta(seconds=LEASE_SECONDS)))
    if job.status == ImportStatus.RUNNING and job.runner and _runner_is_dead(job.runner):
        free |= Q(status=ImportStatus.RUNNING, runner=job.runner)
    claimed = ImportJob.objects.filter(free, pk=job_id).update(
        status=ImportStatus.RUNNING, runner=runner, heartbeat_at=now, error_message="",
        started_at=Coalesce(F("started_at"), now), finished_at=None)
    if not claimed:
        raise Conflict("import_running", f"A importação {job_id} está em andamento em outro processo "
                                         f"({job.runner or '—'}). Aguarde ou pause-a antes.")
    return ImportJob.objects.get(pk=job_id)


def import_job_run(*, job_id: int, actor=None, batch_size: int = BATCH_SIZE, max_seconds: float | None = None,
                   progress: Progress | None = None, runner: str | None = None) -> ImportJob:
    """Import the job's lines from where it stopped, ``batch_size`` lines per transaction.

    Stops when every line is settled (DONE), when an operator pauses it, when
    ``max_seconds`` pass (the job stays RUNNING, free for the next runner), or when
    another runner took it over."""
    runner = runner or runner_id()
    stored = import_job_get(job_id)
    check_mapping(stored.mapping, stored.headers)  # refused before the job is claimed
    job = _claim(job_id, runner)
    actor = actor if actor is not None else job.created_by
    deadline = time.monotonic() + max_seconds if max_seconds else None
    try:
        table, indexes = _load(job)
        catalog = Catalog()
        first_index = first_index_of_refs(table, indexes)
        for records in _chunks(table.records(start=job.next_index), max(1, batch_size)):
            current = ImportJob.objects.filter(pk=job_id).values("status", "runner").first()
            if current != {"status": ImportStatus.RUNNING, "runner": runner}:
                return ImportJob.objects.get(pk=job_id)  # paused, or taken over
            _settle(job, records, indexes, catalog, first_index, actor, runner)
            job.refresh_from_db(fields=PROGRESS_FIELDS)
            if progress:
                progress(job)
            if deadline and time.monotonic() > deadline:
                ImportJob.objects.filter(pk=job_id, runner=runner).update(runner="")
                return ImportJob.objects.get(pk=job_id)
        ImportJob.objects.filter(pk=job_id, runner=runner, status=ImportStatus.RUNNING).update(
            status=ImportStatus.DONE, runner="", finished_at=timezone.now())
    except LeaseLost:
        pass
    except KeyboardInterrupt:
        ImportJob.objects.filter(pk=job_id, runner=runner).update(status=ImportStatus.PAUSED, runner="")
        raise
    except ApplicationError as exc:
        ImportJob.objects.filter(pk=job_id, runner=runner).update(
            status=ImportStatus.FAILED, runner="", error_message=exc.message[:500])
        raise
    except Exception as exc:
        log.exception("import %s failed", job_id)
        ImportJob.objects.filter(pk=job_id, runner=runner).update(
            status=ImportStatus.FAILED, runner="", error_message=f"{type(exc).__name__}: {exc}"[:500])
        raise
    return ImportJob.objects.get(pk=job_id)


def _settle(job, records, indexes, catalog, first_index, actor, runner) -> None:
    """Settle a batch in one transaction; if it fails, each line in its own."""
    try:
        with transaction.atomic():
            _write(job, _parse(records, indexes, catalog, first_index), actor, runner)
        return
    except LeaseLost:
        raise
    except Exception as exc:
        if len(records) > 1:
            for record in records:
                _settle(job, [record], indexes, catalog, first_index, actor, runner)
            return
        error = exc
    # One line whose writes failed: reject it (nothing of it was kept).
    line = _parse(records, indexes, catalog, first_index)[0]
    if isinstance(error, IntegrityError) and "sva_account" in str(error):  # the constraint's name (PostgreSQL) or columns
        error = _account_refusal(line) or error
    if isinstance(error, ApplicationError):
        line.messages.append({"field": "", "code": error.code, "message": error.message, "level": ERROR})
    else:
        log.warning("import %s line %s failed: %r", job.pk, line.line, error)
        line.messages.append({"field": "", "code": "write_failed",
                              "message": f"Não foi possível gravar a linha: {type(error).__name__}: {error}"[:400],
                              "level": ERROR})
    with transaction.atomic():
        _record(job, [line], {}, runner)


def _account_refusal(line: Line) -> ApplicationError | None:
    """A line refused by the one-account-per-customer constraint, reported as
    ``contract_add_product`` reports it (``sva_account_exists``, naming the holder)."""
    customer_id = Customer.objects.filter(document=line.customer.get("document", "")).values_list(
        "pk", flat=True).first()
    return sva_account_refusal(customer_id=customer_id, product_ids=[p.product_id for p in line.products])


def _write(job: ImportJob, lines: list[Line], actor, runner: str) -> None:
    existing = _look_up(lines)
    to_apply = [line for line in lines if line.ok and line.duplicate_of is None]
    now = timezone.now()
    label = actor_label(actor)
    person_id = actor.pk if getattr(actor, "is_authenticated", False) else None

    customer_ids = {doc: c["id"] for doc, c in existing.items()}
    new_customers: dict[str, dict] = {}
    for line in to_apply:
        document = line.customer["document"]
        if document not in customer_ids and document not in new_customers:
            new_customers[document] = line.customer
    created = customers_create_many(customers=list(new_customers.values()))
    customer_ids.update(created)
    insert_dicts(ChangeRecord, [
        {"object_type": "customers.customer", "object_id": str(created[doc]), "action": "create",
         "actor": person_id, "actor_label": label,
         "changes": {"import_job": [None, job.pk], **{k: [None, v] for k, v in data.items() if v}}}
        for doc, data in new_customers.items()
    ], returning=())

    created_contracts = contracts_create_many(actor=actor, contracts=[
        {"customer": customer_ids[line.customer["document"]], "billing_day": line.billing_day,
         "description": line.description, "sales_plan": line.sales_plan_id,
         "detail": {"import_job": job.pk, "line": line.line, "contrato_ref": line.ref},
         "products": [
             {"product": product.product_id, "name": product.name, "kind": product.kind, "price": product.price,
              # one platform account per customer: the constraint refuses a second (see _settle)
              "sva_account_customer": customer_ids[line.customer["document"]] if product.account_integration
              else None,
              "sva_account_integration": product.account_integration}
             for product in line.products]}
        for line in to_apply])
    for line, (contract_id, _items) in zip(to_apply, created_contracts):
        line.contract_id = contract_id
    insert_dicts(ExternalRef, [{"kind": ExternalRef.Kind.CONTRACT, "ref": line.ref, "object_id": line.contract_id,
                               "job": job.pk, "line": line.line} for line in to_apply], returning=())
    for line in to_apply:
        if line.activate:
            contract_activate(contract=line.contract_id, actor=actor)
    _record(job, lines, customer_ids, runner, created_docs=set(created), now=now)


def _record(job: ImportJob, lines: list[Line], customer_ids: dict, runner: str, *,
            created_docs: set[str] = frozenset(), now=None) -> None:
    """The lines' rows and the job's counters and resume point, in the caller's
    transaction; refuses (LeaseLost) when this runner no longer holds the job."""
    rows, counts = [], {s: 0 for s in RowStatus.values}
    warnings = customers_created = 0
    seen_created: set[str] = set()
    for line in lines:
        status = _status_of(line)
        counts[status] += 1
        document = line.customer.get("document", "")
        created = status == RowStatus.APPLIED and document in created_docs and document not in seen_created
        if created:
            seen_created.add(document)
            customers_created += 1
        if status == RowStatus.APPLIED and line.has_warnings:
            warnings += 1
        rows.append({
            "job": job.pk, "index": line.index, "line": line.line, "ref": line.ref[:100], "status": status,
            "messages": line.messages,
            "customer_id": customer_ids.get(document) if status == RowStatus.APPLIED else None,
            "customer_created": created,
            "contract_id": line.contract_id if status == RowStatus.APPLIED else line.duplicate_of})
    insert_dicts(ImportRow, rows, returning=())
    moved = ImportJob.objects.filter(pk=job.pk, runner=runner).update(
        next_index=max(line.index for line in lines) + 1,
        applied=F("applied") + counts[RowStatus.APPLIED],
        rejected=F("rejected") + counts[RowStatus.REJECTED],
        skipped_duplicate=F("skipped_duplicate") + counts[RowStatus.SKIPPED_DUPLICATE],
        warnings=F("warnings") + warnings,
        customers_created=F("customers_created") + customers_created,
        heartbeat_at=now or timezone.now(),
    )
    if not moved:
        raise LeaseLost()


# ---------------------------------------------------------------- operator actions

def import_job_start(*, job: ImportJob, actor=None) -> ImportJob:
    """Queue the import (the interface's "Importar"): RUNNING without a runner, taken by
    the task the page enqueues (imports/tasks.py) or, failing that, by ``run_due_imports``."""
    check_mapping(job.mapping, job.headers)
    updated = ImportJob.objects.filter(pk=job.pk, status__in=RUNNABLE).update(
        status=ImportStatus.RUNNING, runner="", heartbeat_at=None, error_message="")
    if not updated:
        job.refresh_from_db()
        raise InvalidTransition("import_not_startable",
                                f"A importação está {job.get_status_display().lower()}: não pode ser iniciada "
                                "nem retomada agora.")
    return ImportJob.objects.get(pk=job.pk)


def import_job_pause(*, job: ImportJob, actor=None) -> ImportJob:
    """Ask the runner to stop after the batch in progress (committed lines stay)."""
    if not ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(status=ImportStatus.PAUSED):
        job.refresh_from_db()
        raise InvalidTransition("import_not_running",
                                f"Só é possível pausar uma importação em andamento (esta está "
                                f"{job.get_status_display().lower()}).")
    return ImportJob.objects.get(pk=job.pk)


def import_job_get(pk: int) -> ImportJob:
    job = ImportJob.objects.filter(pk=pk).first()
    if job is None:
        raise NotFound("Importação", "import_not_found")
    return job


def run_due_imports(max_seconds: float = 50.0) -> dict:
    """For the periodic job runner: continue imports queued or left behind by a runner
    that died (lease expired), and dry runs likewise, within ``max_seconds``."""
    deadline = time.monotonic() + max_seconds
    stale = timezone.now() - timedelta(seconds=LEASE_SECONDS)
    free = Q(runner="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale)
    done = {"imports": [], "validations": []}
    for job_id in ImportJob.objects.filter(free, status=ImportStatus.VALIDATING).values_list("pk", flat=True):
        try:
            import_job_validate(job_id=job_id)
            done["validations"].append(job_id)
        except ApplicationError:
            continue
    for job_id in ImportJob.objects.filter(free, status=ImportStatus.RUNNING).order_by("pk").values_list("pk", flat=True):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            import_job_run(job_id=job_id, max_seconds=remaining)
            done["imports"].append(job_id)
        except ApplicationError:
            continue
    return done

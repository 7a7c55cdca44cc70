"""``agrega import …``: importação de clientes e contratos a partir de CSV.

    agrega import customers-contracts clientes.csv --dry-run      # simulação: não grava nada
    agrega import customers-contracts clientes.csv --mapping mapa.json
    agrega import customers-contracts --resume 7                  # continua a importação 7

The layout is in docs/imports.md (``agrega import layout`` prints it). Progress goes to
the standard output (to stderr with --json) after every batch.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from agrega.core.errors import ApplicationError, FieldError
from agrega.core.management.base import AgregaCommand, fmt_datetime, key_values, positive_int, table
from agrega.core.uploads import read_file
from agrega.imports import selectors, services
from agrega.imports.filtersets import ImportJobFilterSet, ImportRowFilterSet
from agrega.core.csvio import read_table
from agrega.imports.layout import COLUMNS
from agrega.imports.models import ImportJob, ImportStatus, RowStatus

LEVEL = {"error": "erro", "warning": "aviso", "info": "info"}


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def job_data(job: ImportJob) -> dict:
    return {
        "id": job.pk, "file_name": job.file_name, "sha256": job.sha256, "status": job.status,
        "status_label": job.get_status_display(), "encoding": job.encoding, "delimiter": job.delimiter,
        "mapping": job.mapping, "total_lines": job.total_lines, "next_index": job.next_index,
        "applied": job.applied, "rejected": job.rejected, "skipped_duplicate": job.skipped_duplicate,
        "warnings": job.warnings, "customers_created": job.customers_created, "error_message": job.error_message,
        "created_by": job.created_by_label, "created_at": job.created_at, "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


class Command(AgregaCommand):
    help = "Importação de clientes e contratos (CSV): simulação, importação, retomada."

    def add_subcommands(self, sub):
        p = self.subcommand(
            sub, "customers-contracts", self.customers_contracts,
            help="Importa clientes e contratos de um CSV (uma linha por contrato).",
            epilog="Layout: docs/imports.md ou `agrega import layout`. Sem --dry-run, cada lote de linhas "
                   "é gravado numa transação; uma linha com erro não grava nada dela; reimportar o mesmo "
                   "arquivo não cria nada duas vezes; uma importação interrompida continua com --resume.",
        )
        p.add_argument("file", nargs="?", metavar="ARQUIVO", help="o arquivo CSV (; ou , — UTF-8 ou Latin-1)")
        p.add_argument("--dry-run", action="store_true", help="simulação: valida todas as linhas e não grava nada")
        p.add_argument("--mapping", metavar="MAPA.json",
                       help='mapeamento de colunas: {"cpf_cnpj": "CPF", "nome": "Cliente", …}')
        p.add_argument("--resume", type=positive_int, metavar="IMPORTACAO",
                       help="continua a importação indicada de onde parou")
        p.add_argument("--batch-size", type=positive_int, default=services.BATCH_SIZE,
                       help=f"linhas por transação (padrão {services.BATCH_SIZE})")
        p.add_argument("--quiet", action="store_true", help="sem linhas de progresso")
        self.add_actor(p)

        p = self.subcommand(sub, "show", self.show, help="Mostra uma importação e as linhas rejeitadas.")
        p.add_argument("job", type=positive_int, metavar="IMPORTACAO")
        ImportRowFilterSet.add_arguments(p)  # the same filter as the page and the API (default: with messages)

        p = self.subcommand(sub, "list", self.list, help="Lista as importações.")
        ImportJobFilterSet.add_arguments(p)  # the same filter as the page and the API

        p = self.subcommand(sub, "pause", self.pause, help="Pausa uma importação em andamento.")
        p.add_argument("job", type=positive_int, metavar="IMPORTACAO")
        self.add_actor(p)

        self.subcommand(sub, "layout", self.layout, help="Mostra as colunas do arquivo.")

    # -- helpers ---------------------------------------------------------------------

    def _progress_line(self, text: str) -> None:
        stream = sys.stderr if self.json_mode else self.stdout
        stream.write(text + ("\n" if self.json_mode else ""))
        stream.flush()

    @staticmethod
    def _read(path: str) -> bytes:
        try:
            return read_file(path)  # refused at the upload limit, never read whole first
        except OSError as exc:
            raise ApplicationError("file_unreadable", f"Não foi possível ler o arquivo {path}: {exc.strerror}.",
                                   fields={"file": [FieldError("file_unreadable", str(exc))]}) from None

    @staticmethod
    def _mapping(path: str | None) -> dict | None:
        if not path:
            return None
        try:
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ApplicationError("mapping_unreadable", f"Mapeamento inválido em {path}: {exc}.") from None

    def _message_lines(self, entries: list[dict]) -> list[str]:
        out = []
        for entry in entries:
            for m in entry["messages"]:
                ref = f" [{entry['ref']}]" if entry.get("ref") else ""
                out.append(f"  linha {entry['line']}{ref} {LEVEL.get(m['level'], m['level'])} [{m['code']}]: {m['message']}")
        return out

    # -- subcommands -----------------------------------------------------------------

    def customers_contracts(self, *, file, dry_run, mapping, resume, batch_size, quiet, as_user, **_):
        actor = self.actor(as_user)
        if resume is None and not file:
            raise ApplicationError("file_required", "Informe o arquivo (ou --resume IMPORTACAO).")
        if dry_run:
            return self._dry_run(file, self._mapping(mapping), quiet)
        if resume is not None:
            job = services.import_job_get(resume)
            if file and services.file_digest(self._read(file)) != job.sha256:
                raise ApplicationError("file_mismatch", f"O arquivo não é o da importação {job.pk} "
                                                        f"({job.file_name}): o conteúdo é diferente.")
            if mapping:
                raise ApplicationError("mapping_fixed", "Uma importação retomada usa o mapeamento que já tem.")
        else:
            content = self._read(file)
            job = services.import_job_create(file_name=Path(file).name, content=content,
                                             mapping=self._mapping(mapping), actor=actor)
            earlier = services.previous_import_of(job)
            if earlier is not None:
                self.warn(f"este arquivo já foi importado (importação {earlier.pk}); "
                          "as linhas já importadas serão ignoradas.")
        if not quiet and not self.json_mode:
            self.stdout.write(f"Importação {job.pk}: {job.file_name} — {_n(job.total_lines)} linhas "
                              f"(retomando da linha {job.next_index + 1} de dados)" if resume else
                              f"Importação {job.pk}: {job.file_name} — {_n(job.total_lines)} linhas")
        started = time.monotonic()
        first = job.next_index

        def progress(current: ImportJob) -> None:
            if quiet:
                return
            elapsed = max(time.monotonic() - started, 1e-6)
            rate = (current.next_index - first) / elapsed
            pct = int(100 * current.next_index / current.total_lines) if current.total_lines else 100
            self._progress_line(
                f"progresso: {_n(current.next_index)}/{_n(current.total_lines)} linhas ({pct}%) · "
                f"{_n(current.applied)} importadas · {_n(current.rejected)} rejeitadas · "
                f"{_n(current.skipped_duplicate)} já importadas · {rate:,.0f} linhas/s".replace(",", "."))

        job = services.import_job_run(job_id=job.pk, actor=actor, batch_size=batch_size, progress=progress)
        elapsed = time.monotonic() - started
        rejected = [
            {"line": r.line, "ref": r.ref, "status": r.status, "messages": r.messages}
            for r in selectors.import_row_list(job_id=job.pk, status=RowStatus.REJECTED)
        ]
        data = {**job_data(job), "seconds": round(elapsed, 3), "rejected_lines": rejected}
        self.emit(data, lambda: [
            f"Importação {job.pk}: {job.get_status_display().lower()} em {elapsed:.1f} s.",
            *key_values([("Importadas", _n(job.applied)), ("Rejeitadas", _n(job.rejected)),
                         ("Já importadas (ignoradas)", _n(job.skipped_duplicate)),
                         ("Com avisos", _n(job.warnings)), ("Clientes criados", _n(job.customers_created))]),
            *(["Linhas rejeitadas (nada delas foi gravado):", *self._message_lines(rejected)] if rejected else []),
            *([f"Pausada: continue com `agrega import customers-contracts --resume {job.pk}`."]
              if job.status == ImportStatus.PAUSED else []),
        ])

    def _dry_run(self, file: str, mapping: dict | None, quiet: bool) -> None:
        from agrega.imports.layout import check_mapping, guess_mapping

        table_ = read_table(self._read(file))
        mapping = check_mapping(mapping if mapping is not None else guess_mapping(table_.headers), table_.headers)

        def progress(done: int, total: int) -> None:
            if not quiet:
                self._progress_line(f"simulação: {_n(done)}/{_n(total)} linhas verificadas")

        report = services.validate_file(table=table_, mapping=mapping, progress=progress)
        data = {"dry_run": True, "file_name": Path(file).name, "encoding": table_.encoding,
                "delimiter": table_.delimiter, "mapping": mapping, **report}
        self.emit(data, lambda: [
            f"Simulação de {Path(file).name} ({table_.encoding}, separador '{table_.delimiter}'): nada foi gravado.",
            *key_values([("Linhas", _n(report["total"])), ("Seriam importadas", _n(report["applied"])),
                         ("Rejeitadas", _n(report["rejected"])),
                         ("Já importadas (ignoradas)", _n(report["skipped_duplicate"])),
                         ("Com avisos", _n(report["warnings"])), ("Clientes novos", _n(report["customers_new"])),
                         ("Clientes já cadastrados", _n(report["customers_existing"])),
                         ("Contratos a ativar", _n(report["activations"]))]),
            *(["Problemas por linha:", *self._message_lines(report["lines"])] if report["lines"] else []),
        ])

    def show(self, *, job, **options):
        found = services.import_job_get(job)
        rows = ImportRowFilterSet(ImportRowFilterSet.from_options(options), job_id=found.pk,
                                  problems_only=True).queryset()
        entries = [{"line": r.line, "ref": r.ref, "status": r.status, "contract_id": r.contract_id,
                    "messages": r.messages} for r in rows]
        self.emit({**job_data(found), "rows": entries}, lambda: [
            f"Importação {found.pk} — {found.file_name}",
            *key_values([("Situação", found.get_status_display()),
                         ("Linhas", f"{_n(found.next_index)}/{_n(found.total_lines)} processadas"),
                         ("Importadas", _n(found.applied)), ("Rejeitadas", _n(found.rejected)),
                         ("Já importadas", _n(found.skipped_duplicate)), ("Com avisos", _n(found.warnings)),
                         ("Clientes criados", _n(found.customers_created)), ("Por", found.created_by_label),
                         ("Criada em", fmt_datetime(found.created_at)), ("Erro", found.error_message)]),
            *(["Linhas:", *self._message_lines(entries)] if entries else []),
        ])

    def list(self, **options):
        jobs = list(ImportJobFilterSet(ImportJobFilterSet.from_options(options)).queryset()[:100])
        self.emit([job_data(j) for j in jobs], lambda: table(
            ["ID", "Arquivo", "Situação", "Linhas", "Importadas", "Rejeitadas", "Já importadas", "Criada em"],
            [(j.pk, j.file_name, j.get_status_display(), _n(j.total_lines), _n(j.applied), _n(j.rejected),
              _n(j.skipped_duplicate), fmt_datetime(j.created_at)) for j in jobs]) if jobs else ["Nenhuma importação."])

    def pause(self, *, job, as_user, **_):
        found = services.import_job_pause(job=services.import_job_get(job), actor=self.actor(as_user))
        self.emit(job_data(found), [f"Importação {found.pk}: pausa pedida; o lote em andamento termina antes."])

    def layout(self, **_):
        self.emit([{"column": c.name, "label": c.label, "required": c.required, "aliases": list(c.aliases),
                    "help": c.help} for c in COLUMNS],
                  lambda: table(["Coluna", "Descrição", "Obrigatória", "Também reconhecida como"],
                                [(c.name, c.label + (f" — {c.help}" if c.help else ""), "sim" if c.required else "não",
                                  ", ".join(c.aliases)) for c in COLUMNS]))

"""Importação de clientes e contratos: 100,000 lines, dry run and import, on PostgreSQL.

Generates a CSV like an ISP's export (one line per contract, ``;``, UTF-8): every
customer with a valid CPF, e-mail and celular, an internet product with its own price,
a share of the lines active with an SVA product of an auto-create integration (so the
activation runs through ``contract_activate`` and creates SVA users), and 1 % bad lines
(invalid CPF). Times the dry run, the import (in-process, the same code as
``agrega import customers-contracts``) and a re-import of the same file (every line
skipped), and prints lines/s and wall time.

    ./run bench import_customers --lines 100000
    DATABASE_URL=sqlite:////tmp/bench-import.sqlite3 ./run bench import_customers --lines 20000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/agrega_bench_import"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--active-share", type=float, default=0.2,
                        help="share of lines imported as active with an SVA product (default 0.2)")
    parser.add_argument("--bad-share", type=float, default=0.01, help="share of lines with an invalid CPF")
    parser.add_argument("--quick", action="store_true", help="1,000 lines (./run bench all)")
    args = parser.parse_args()
    if args.quick:
        args.lines = 1000
    return args


def ensure_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> str:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    ensure_database(os.environ["DATABASE_URL"])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agrega.settings")
    os.environ.setdefault("AGREGA_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if "imports_importjob" in connection.introspection.table_names():
        call_command("flush", interactive=False, verbosity=0)  # a fresh run on a reused database
    call_command("migrate", verbosity=0)
    return connection.vendor


def make_file(path: Path, lines: int, *, internet_id: int, sva_code: str, active_share: float,
              bad_share: float) -> None:
    from agrega.core.br import make_cpf

    rng = random.Random(42)
    cities = ["Campinas", "São Paulo", "Sorocaba", "Jundiaí", "Piracicaba"]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("contrato;nome;cpf;email;celular;endereco;numero;bairro;cidade;uf;cep;vencimento;status;produtos\n")
        for n in range(1, lines + 1):
            document = make_cpf(n) if rng.random() >= bad_share else "111.222.333-44"
            active = rng.random() < active_share
            products = f"{internet_id}={rng.choice(['89,90', '99,90', '119,90'])}"
            if active:
                products += f"|{sva_code}"
            out.write(f"C{n:07d};Cliente {n};{document};cliente{n}@example.com.br;(11) 9{n:08d};"
                      f"Rua {n % 300};{n % 2000};Centro;{rng.choice(cities)};SP;13000000;"
                      f"{rng.randint(1, 28)};{'A' if active else 'P'};{products}\n")


def main() -> None:
    args = parse_args()
    vendor = setup_django()
    from agrega.catalog.services import product_create
    from agrega.contracts.models import Contract
    from agrega.imports import services
    from agrega.core.csvio import read_table
    from agrega.imports.layout import guess_mapping
    from agrega.integrations.services import integration_create
    from agrega.sva.models import SvaUser

    integration = integration_create(
        name="EXA bench", platform="exa", base_url="http://127.0.0.1:9", prefix="bench", auto_create_users=True,
        credentials={"client_id": "bench", "client_secret": "bench"})
    internet, _ = product_create(name="Fibra 500", price="99.90", fiscal_class="SCM")
    sva, _ = product_create(name="EXA Segurança", price="9.90", fiscal_class="SVA",
                            sva_integration_id=integration.pk, sva_package_code="EXA-SEG-BASICO")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clientes.csv"
        make_file(path, args.lines, internet_id=internet.pk, sva_code=sva.sva_package_code,
                  active_share=args.active_share, bad_share=args.bad_share)
        content = path.read_bytes()
        print(f"{vendor}: {args.lines:,} lines, {len(content) / 1e6:.1f} MB, "
              f"{args.active_share:.0%} active with SVA, {args.bad_share:.0%} bad, batch {args.batch_size}; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

        started = time.perf_counter()
        table = read_table(content)
        report = services.validate_file(table=table, mapping=guess_mapping(table.headers))
        dry = time.perf_counter() - started
        print(f"dry run:   {dry:7.1f} s  {args.lines / dry:8,.0f} lines/s  "
              f"({report['applied']:,} would apply, {report['rejected']:,} rejected)")

        marks = {}

        def progress(job):
            tenth = 10 * job.next_index // job.total_lines
            if tenth not in marks:
                marks[tenth] = time.perf_counter() - started

        started = time.perf_counter()
        job = services.import_job_create(file_name="clientes.csv", content=content)
        job = services.import_job_run(job_id=job.pk, batch_size=args.batch_size, progress=progress)
        wall = time.perf_counter() - started
        print(f"import:    {wall:7.1f} s  {args.lines / wall:8,.0f} lines/s  ({job.applied:,} applied, "
              f"{job.rejected:,} rejected; {Contract.objects.count():,} contracts, "
              f"{Contract.objects.filter(status='A').count():,} active, {SvaUser.objects.count():,} SVA users)")
        print("           " + "  ".join(f"{10 * k}%:{v:.0f}s" for k, v in sorted(marks.items()) if k))

        started = time.perf_counter()
        again = services.import_job_create(file_name="clientes.csv", content=content)
        again = services.import_job_run(job_id=again.pk, batch_size=args.batch_size)
        redo = time.perf_counter() - started
        print(f"re-import: {redo:7.1f} s  {args.lines / redo:8,.0f} lines/s  ({again.applied:,} applied, "
              f"{again.skipped_duplicate:,} already imported)")
        print(f"wall time for {args.lines:,} lines: dry run + import = {(dry + wall) / 60:.1f} min "
              f"(load average now {os.getloadavg()[0]:.1f})")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import summary

    summary.emit(f"import_customers {args.lines:,} lines ({vendor})", figure=args.lines / wall, baseline=None,
                 ratio=None, target="—", unit="lines/s", verdict="no baseline",
                 note="no side-by-side baseline yet (absolute figure)")


if __name__ == "__main__":
    main()

"""Customer search on 100,000 customers (issue 20, item 6): the one search rule the
Clientes page, the lupa, the API and the CLI use (customers.selectors.customer_search),
timed per kind of query, with the plan PostgreSQL picks. Builds the customers once
(names with accents, E.164 mobiles, valid CPFs) in its own database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agrega_bench_search ./run bench customer_search
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/agrega_bench_search"
FIRST = ["Maria", "José", "João", "Ana", "Antônio", "Francisca", "Conceição", "Luís", "Márcia", "Sebastião",
         "Adriana", "Raimundo", "Júlia", "Paulo", "Cláudia", "Tânia", "Fábio", "Inês", "Otávio", "Lúcia"]
MIDDLE = ["Aparecida", "da Silva", "dos Santos", "de Jesus", "Gonçalves", "", "", "Luíza", "Cristina", "Augusto"]
LAST = ["Souza", "Oliveira", "Pereira", "Araújo", "Conceição", "Simões", "Assunção", "Brandão", "Lima", "Magalhães",
        "Ribeiro", "Gonçalves", "Falcão", "Guimarães", "Gusmão", "Damião", "Romão", "Vasconcelos"]


def setup_django():
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    url = os.environ["DATABASE_URL"]
    if url.startswith("postgres"):
        import psycopg

        name, admin = url.rsplit("/", 1)[1], url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agrega.settings")
    os.environ.setdefault("AGREGA_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(count: int) -> None:
    from django.db import connection

    from agrega.core.br import make_cpf
    from agrega.customers.models import Customer

    have = Customer.objects.count()
    if have >= count:
        return
    rng = random.Random(20)
    rows = []
    for n in range(have, count):
        name = " ".join(p for p in (rng.choice(FIRST), rng.choice(MIDDLE), rng.choice(LAST)) if p)
        rows.append(Customer(name=f"{name} {n}", person_type="F", document=make_cpf(n + 1),
                             email=f"cliente{n}@example.com.br",
                             mobile_phone=f"+55{rng.randint(11, 99)}9{n:08d}", city="São Paulo", state="SP"))
    Customer.objects.bulk_create(rows, batch_size=5000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="10,000 customers, 5 rounds (./run bench all)")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.rounds = 10_000, 5
    setup_django()
    started = time.perf_counter()
    build(args.customers)
    print(f"{args.customers} customers ready in {time.perf_counter() - started:.1f} s")

    from django.db import connection

    from agrega.core.br import make_cpf
    from agrega.customers.selectors import customer_search

    cpf = make_cpf(4242)
    queries = {
        "two words, accents off (maria souza)": "maria souza",
        "one word, accented (conceição)": "conceição",
        "rare words (sebastiao guimaraes 4242)": "sebastiao guimaraes 4242",
        "phone with punctuation (90004-2424)": "90004-2424",
        "phone digits only (900042424)": "900042424",
        "whole CPF with punctuation": f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}",
        "e-mail piece (cliente4242@)": "cliente4242@",
    }
    print(f"{'query':48} {'rows(≤51)':>9} {'median ms':>10} {'max ms':>8} {'bare SQL ms':>11}  plan")
    total_orm = total_bare = 0.0
    for label, q in queries.items():
        times, bare = [], []
        sql, params = customer_search(q=q)[:51].query.sql_with_params()
        for _ in range(args.rounds):  # the selector (ORM, model instances) and its SQL alone, interleaved
            t0 = time.perf_counter()
            rows = list(customer_search(q=q)[:51])
            times.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                raw = cursor.fetchall()
            bare.append((time.perf_counter() - t0) * 1000)
        if len(raw) != len(rows):
            raise SystemExit(f"{label}: the bare SQL found {len(raw)} rows, the selector {len(rows)}")
        total_orm += statistics.median(times)
        total_bare += statistics.median(bare)
        plan = ""
        if connection.vendor == "postgresql":
            plan = customer_search(q=q)[:51].explain()
            plan = ("trigram/btree index" if "Bitmap Index Scan" in plan or "Index Cond" in plan
                    else "walks the id order (many hits)" if "pkey" in plan else "seq scan")
        print(f"{label:48} {len(rows):>9} {statistics.median(times):>10.2f} {max(times):>8.2f} "
              f"{statistics.median(bare):>11.2f}  {plan}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import summary

    ratio = total_orm / total_bare
    summary.emit(f"customer_search {args.customers:,} customers ({connection.vendor}), {len(queries)} queries",
                 figure=total_orm, baseline=total_bare, ratio=ratio, target="≤ 1.5", unit="ms",
                 verdict=summary.verdict(ratio <= 1.5),
                 note="sum of medians; baseline: the selector's own SQL through the same connection")


if __name__ == "__main__":
    main()

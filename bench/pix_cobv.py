"""Creating cobranças com vencimento on the PSP sandbox at its rate limit: Agrega vs a bare
httpx loop, side by side in one run (issue 17 target: Agrega / bare ≥ 0.8).

Both sides run against the **same** sandbox process (same rate limit per client, same
latency), each round on a fresh sandbox account, in alternating order (bare first in odd
rounds, Agrega first in even ones), at the same concurrency C:

* **bare** — threads sharing one pooled httpx client, one token (renewed on 401), each
  429 waited out for its Retry-After and retried; a random txid and a fixed body per call.
* **Agrega** — what the task worker runs for the títulos a billing run created
  (``pix.tasks.charges_sync_task``, batches of ``services.SYNC_BATCH`` títulos, C worker
  threads): one read of the batch's títulos with customers, contracts, réguas and
  charges, one INSERT of their charges, then per título the ``CobVSolicitada`` with the
  régua's multa/juros/desconto, ``PUT /cobv/{txid}`` through Agrega's PSP client (the
  process's shared client: token cache, 429/Retry-After, backoff) and one UPDATE that
  stores the copia-e-cola. The títulos (``count × rounds`` of them, bulk inserts) exist before the
  clock starts, in a throw-away SQLite file (or ``--database``, which is flushed).

The last line printed is JSON: ``{"bench": "pix_cobv", "figure": <Agrega cobv/s>,
"baseline": <bare cobv/s>, "ratio": ..., "target": 0.8, "verdict": "met"|"not met"}``
(medians over the rounds).

    ./run bench pix_cobv --count 100000 --concurrency 16 --rate 1000 --latency-ms 20
    ./run bench pix_cobv --count 10000 --rounds 3
    ./run bench pix_cobv --quick                    # 500 per side, 1 round: a smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pix_sandbox.testing import Payer, PixClient, SandboxProcess  # noqa: E402

TARGET = 0.8


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="cobranças per side per round")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=1000.0, help="the sandbox's rate limit, requests/s")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the sandbox's latency per call")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="500 cobranças per side, 1 round")
    parser.add_argument("--database", default="", help="DATABASE_URL for Agrega's side (flushed!); "
                                                        "default: a throw-away SQLite file")
    args = parser.parse_args()
    if args.quick:
        args.count, args.rounds = 500, 1
    return args


# ---------------------------------------------------------------- the bare side

def bare_body(chave: str, n: int) -> dict:
    due = (dt.date.today() + dt.timedelta(days=10 + n % 20)).isoformat()
    return {"calendario": {"dataDeVencimento": due, "validadeAposVencimento": 30},
            "devedor": {"cpf": "12345678909", "nome": f"Cliente {n}"},
            "valor": {"original": f"{50 + n % 200}.90",
                      "multa": {"modalidade": 2, "valorPerc": "2.00"},
                      "juros": {"modalidade": 3, "valorPerc": "1.00"}},
            "chave": chave, "solicitacaoPagador": f"Fatura {n}"}


def new_account(payer: Payer, label: str) -> dict:
    client_id = f"bench-{label}-{uuid.uuid4().hex[:8]}"
    secret, chave = uuid.uuid4().hex, str(uuid.uuid4())
    payer.create_account(client_id, secret, chave)
    return {"client_id": client_id, "client_secret": secret, "chave": chave}


def bare(sandbox: SandboxProcess, account: dict, count: int, concurrency: int) -> dict:
    """The reference: what a minimal correct client achieves against the same limits."""
    client = PixClient(sandbox.url, sandbox.token_url, account["client_id"], account["client_secret"],
                       max_connections=concurrency * 2)
    client.fetch_token()
    throttled = [0]
    created = [0]
    lock = threading.Lock()

    def create(n: int) -> None:
        txid = uuid.uuid4().hex  # 32 alphanumerics
        body = bare_body(account["chave"], n)
        while True:
            response = client.request("PUT", f"/cobv/{txid}", json=body)
            if response.status_code == 429:
                with lock:
                    throttled[0] += 1
                time.sleep(float(response.headers.get("retry-after", "1")))
                continue
            response.raise_for_status()
            with lock:
                created[0] += 1
            return

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(create, range(count)))
    elapsed = time.perf_counter() - started
    client.close()
    return {"seconds": elapsed, "created": created[0], "throttled": throttled[0]}


# ---------------------------------------------------------------- Agrega's side

def setup_agrega(total: int, database: str) -> list[int]:
    """Django on a throw-away database with ``total`` open títulos (one contract each,
    a régua with multa/juros/desconto on their plan's policy), before any clock."""
    tmp = tempfile.mkdtemp(prefix="pixcobv-")
    os.environ["DATABASE_URL"] = database or f"sqlite:///{tmp}/bench.sqlite3"
    os.environ.setdefault("AGREGA_SECRET_KEY", "agrega-bench-secret-key-not-for-production-0123456789")
    os.environ.setdefault("AGREGA_CREDENTIALS_KEY", "YmVuY2gtY3JlZGVudGlhbHMta2V5LTMyLWJ5dGVzLi4=")
    os.environ.setdefault("AGREGA_EGRESS_ALLOW", "127.0.0.1/32")
    os.environ["AGREGA_VAR_DIR"] = os.environ.get("AGREGA_VAR_DIR") or tmp
    os.environ["DJANGO_SETTINGS_MODULE"] = "agrega.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from agrega.billing.models import Invoice
    from agrega.contracts.models import Contract
    from agrega.core.br import make_cpf
    from agrega.customers.models import Customer

    if database and "billing_invoice" in connection.introspection.table_names():
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    policy_id = _bench_policy()
    now = timezone.now()
    Customer.objects.bulk_create([Customer(name=f"Cliente {i}", document=make_cpf(700_000 + i), person_type="F",
                                           email=f"c{i}@bench.example.com") for i in range(total)], batch_size=5000)
    customers = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    extra = {"dunning_policy_id": policy_id} if policy_id else {}
    Contract.objects.bulk_create([Contract(customer_id=c, status="A", access_status="A", billing_day=10,
                                           activated_at=now, **extra) for c in customers], batch_size=5000)
    contracts = list(Contract.objects.order_by("pk").values_list("pk", "customer_id"))
    period, due = dt.date.today().replace(day=1), dt.date.today() + dt.timedelta(days=15)
    Invoice.objects.bulk_create([Invoice(contract_id=k, customer_id=c, period=period, issued_on=dt.date.today(),
                                         due_date=due, amount=f"{50 + k % 200}.90") for k, c in contracts],
                                batch_size=5000)
    connection.close()
    return list(Invoice.objects.order_by("pk").values_list("pk", flat=True))


def _bench_policy() -> int | None:
    """A régua with multa 2 %, juros 1 % a.m. and a discount, when the model has them."""
    from agrega.contracts.models import Contract
    from agrega.dunning.models import DunningPolicy

    if not hasattr(Contract, "dunning_policy_id") or not hasattr(DunningPolicy, "multa_modalidade"):
        return None
    policy = DunningPolicy.objects.create(
        name="Régua bench", multa_modalidade=2, multa_valor="2.00", juros_modalidade=3, juros_valor="1.00",
        desconto_modalidade=1, desconto_valor="5.00", desconto_dias=5, validade_apos_vencimento=30)
    return policy.pk


def agrega(sandbox: SandboxProcess, account: dict, invoices: list[int], concurrency: int) -> dict:
    from django.db import connection

    from agrega.pix import services, tasks
    from agrega.pix.models import ChargeStatus, PixAccount, PixCharge

    PixAccount.objects.update(active=False)  # the fresh account is the one new cobranças go to
    services.account_create(name=f"PSP {account['client_id']}", base_url=sandbox.url, token_url=sandbox.token_url,
                            client_id=account["client_id"], client_secret=account["client_secret"],
                            chave=account["chave"])
    connection.close()
    # the tasks the billing hook enqueues: batches of services.SYNC_BATCH títulos
    pending = iter([invoices[i:i + services.SYNC_BATCH] for i in range(0, len(invoices), services.SYNC_BATCH)])
    lock = threading.Lock()
    outcomes: dict[str, int] = {}

    def worker() -> None:
        """One worker thread of the task runner: its own DB connection, kept."""
        try:
            while True:
                with lock:
                    batch = next(pending, None)
                if batch is None:
                    return
                counts = tasks.charges_sync_task.func(batch)
                with lock:
                    for key, n in counts.items():
                        outcomes[str(key)] = outcomes.get(str(key), 0) + n
        finally:
            connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    created = PixCharge.objects.filter(invoice_id__in=[invoices[0], invoices[-1]], status=ChargeStatus.ACTIVE).count()
    active = outcomes.get(str(ChargeStatus.ACTIVE), 0)
    connection.close()
    return {"seconds": elapsed, "created": active, "outcomes": outcomes, "ends_active": created}


def main() -> int:
    args = parse_args()
    print(f"pix_cobv: {args.count} cobranças per side × {args.rounds} round(s), concurrency {args.concurrency}, "
          f"sandbox limit {args.rate:g} req/s, latency {args.latency_ms:g} ms, "
          f"load {'/'.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    started = time.perf_counter()
    invoices = setup_agrega(args.count * args.rounds, args.database)
    print(f"setup: {len(invoices)} títulos in {time.perf_counter() - started:.1f} s", flush=True)
    rows = []
    with SandboxProcess(args=["--rate-limit-rps", str(args.rate), "--latency-ms", str(args.latency_ms),
                              "--token-ttl", "86400"]) as sandbox, Payer(sandbox.root) as payer:
        for round_ in range(args.rounds):
            batch = invoices[round_ * args.count:(round_ + 1) * args.count]
            sides = {}
            order = ("bare", "agrega") if round_ % 2 == 0 else ("agrega", "bare")
            for side in order:
                account = new_account(payer, side)
                if side == "bare":
                    sides[side] = bare(sandbox, account, args.count, args.concurrency)
                else:
                    sides[side] = agrega(sandbox, account, batch, args.concurrency)
            b, a = sides["bare"], sides["agrega"]
            rate_b, rate_a = b["created"] / b["seconds"], a["created"] / a["seconds"]
            print(f"round {round_ + 1} ({' then '.join(order)}): bare {b['seconds']:.1f} s = {rate_b:.0f} cobv/s "
                  f"({b['throttled']} × 429) | Agrega {a['seconds']:.1f} s = {rate_a:.0f} cobv/s "
                  f"(outcomes {a['outcomes']}) | Agrega/bare {rate_a / rate_b:.2f} "
                  f"| load {os.getloadavg()[0]:.2f}", flush=True)
            if a["created"] != args.count or a["ends_active"] != 2:
                print(f"  Agrega created {a['created']} of {args.count}", flush=True)
            rows.append((rate_b, rate_a))
        stats = payer.stats()
    baseline = statistics.median(r[0] for r in rows)
    figure = statistics.median(r[1] for r in rows)
    ratio = statistics.median(r[1] / r[0] for r in rows)
    print(f"median bare {baseline:.0f} cobv/s, Agrega {figure:.0f} cobv/s, ratio {ratio:.2f} (target ≥ {TARGET}); "
          f"sandbox answered {stats['responses']} (injected {stats['faults_injected']})")
    print(json.dumps({"bench": "pix_cobv", "figure": round(figure, 1), "baseline": round(baseline, 1),
                      "ratio": round(ratio, 3), "target": TARGET,
                      "verdict": "met" if ratio >= TARGET else "not met"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

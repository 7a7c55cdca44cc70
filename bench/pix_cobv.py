"""Creating cobranças com vencimento on the PSP sandbox at its rate limit: the bare side.

N ``PUT /cobv/{txid}`` go to the sandbox (``pix_sandbox``) from a bare httpx loop at
concurrency C (threads sharing one pooled client, a token fetched once and renewed on
401, each 429 waited out for its Retry-After then retried) while the sandbox enforces a
rate limit (requests/s per client) and a latency. It prints wall time, cobranças/s, the
429s received, and p50/p99 per call.

Agrega's side plugs in here: if ``bench/pix_cobv_agrega.py`` exists, its function

    run(psp: dict, count: int, concurrency: int) -> int   # cobranças created

is timed in the same round, against the same sandbox (a fresh account each side), and
the ratio Agrega / bare is printed (issue 17 target: ≥ 0.8). ``psp`` has ``api_url``,
``token_url``, ``client_id``, ``client_secret``, ``chave`` and ``payer`` (a
``pix_sandbox.testing.Payer``).

    ./run bench pix_cobv --count 100000 --concurrency 16 --rate 1000 --latency-ms 20
    ./run bench pix_cobv --count 5000 --rounds 3          # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pix_sandbox.testing import Payer, PixClient, SandboxProcess  # noqa: E402

HOOK = ROOT / "bench" / "pix_cobv_agrega.py"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="cobranças per side per round")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=1000.0, help="the sandbox's rate limit, requests/s")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the sandbox's latency per call")
    parser.add_argument("--rounds", type=int, default=1)
    return parser.parse_args()


def cobv_body(chave: str, n: int) -> dict:
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
    latencies: list[float] = []
    throttled = [0]
    lock = threading.Lock()

    def create(n: int) -> None:
        txid = uuid.uuid4().hex  # 32 alphanumerics
        body = cobv_body(account["chave"], n)
        while True:
            started = time.perf_counter()
            response = client.request("PUT", f"/cobv/{txid}", json=body)
            if response.status_code == 429:
                with lock:
                    throttled[0] += 1
                time.sleep(float(response.headers.get("retry-after", "1")))
                continue
            response.raise_for_status()
            with lock:
                latencies.append(time.perf_counter() - started)
            return

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(create, range(count)))
    elapsed = time.perf_counter() - started
    client.close()
    latencies.sort()
    return {"seconds": elapsed, "created": len(latencies), "throttled": throttled[0],
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def agrega_side(sandbox: SandboxProcess, payer: Payer, account: dict, count: int, concurrency: int):
    if not HOOK.exists():
        return None
    spec = importlib.util.spec_from_file_location("pix_cobv_agrega", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    psp = {"api_url": sandbox.url, "token_url": sandbox.token_url, "payer": payer, **account}
    started = time.perf_counter()
    created = module.run(psp, count, concurrency)
    return {"seconds": time.perf_counter() - started, "created": created}


def main() -> int:
    args = parse_args()
    print(f"pix_cobv: {args.count} cobranças per side, concurrency {args.concurrency}, "
          f"sandbox limit {args.rate:g} req/s, latency {args.latency_ms:g} ms, load {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    with SandboxProcess(args=["--rate-limit-rps", str(args.rate), "--latency-ms", str(args.latency_ms),
                              "--token-ttl", "86400"]) as sandbox, Payer(sandbox.root) as payer:
        for round_ in range(1, args.rounds + 1):
            reference = bare(sandbox, new_account(payer, "bare"), args.count, args.concurrency)
            ours = agrega_side(sandbox, payer, new_account(payer, "agrega"), args.count, args.concurrency)
            rate_bare = reference["created"] / reference["seconds"]
            line = (f"round {round_}: bare {reference['seconds']:.1f} s = {rate_bare:.0f} cobv/s "
                    f"(p50 {reference['p50_ms']:.1f} ms, p99 {reference['p99_ms']:.1f} ms, "
                    f"{reference['throttled']} × 429)")
            ratio = None
            if ours is not None:
                rate_ours = ours["created"] / ours["seconds"]
                ratio = rate_ours / rate_bare
                line += f" | Agrega {ours['seconds']:.1f} s = {rate_ours:.0f} cobv/s | Agrega/bare {ratio:.2f}"
            print(line, flush=True)
            rows.append((rate_bare, ratio))
        stats = payer.stats()
    print(f"median bare {statistics.median(r[0] for r in rows):.0f} cobv/s; "
          f"sandbox answered {stats['responses']} (injected {stats['faults_injected']})")
    ratios = [r[1] for r in rows if r[1] is not None]
    if ratios:
        print(f"median Agrega/bare {statistics.median(ratios):.2f} (target ≥ 0.80)")
    else:
        print("Agrega's side: bench/pix_cobv_agrega.py absent (the PIX client adds it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

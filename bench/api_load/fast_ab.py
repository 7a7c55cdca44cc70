"""CPU per request of the API's three hot reads (contract list, contract detail, customer
search) through the token chain and through their fast reads (core.fast_reads, decision
0016), in one process, the two alternated on the same paths; and, for scale, each read's own
work alone (the selector, the row shaping, ``json_answer``).

    PYTHONPATH=$PWD DATABASE_URL=postgres://…/db python bench/api_load/fast_ab.py TOKEN [N] [PASSES] [READS]
    PROF=tottime …       # and cProfile's table (process clock) of the fast path

READS: comma-separated, of contract_list, contract_detail, customer_search (all by default).
The database is an api_load base (bench/api_load.py) with a token of its operator; the
paths are the bench's own (``ratio_paths``: keyset pages of 50 from a random cursor, random
contracts, searches by CPF). Every path is first held to the same status, headers and bytes
on both sides, and to the fast read being taken.
"""
import cProfile
import functools
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl

os.environ.setdefault("AGREGA_ALLOWED_HOSTS", "127.0.0.1")

from agrega.wsgi import application  # noqa: E402  (sets Django up)
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402

from agrega.core.api import json_answer  # noqa: E402
from agrega.core.handlers import TokenApiHandler  # noqa: E402
from agrega.contracts import api as contracts_api, selectors as contract_selectors  # noqa: E402
from agrega.customers import selectors  # noqa: E402
from agrega.customers.api import _out  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import api_load  # noqa: E402  (the bench's paths)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from wsgi_get import wsgi_get  # noqa: E402  (this folder)

token = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
passes = int(sys.argv[3]) if len(sys.argv) > 3 else 6
reads = sys.argv[4].split(",") if len(sys.argv) > 4 else ["contract_list", "contract_detail", "customer_search"]

chain = TokenApiHandler()  # the same handler without its fast reads: Django's get_response
chain.get_response = functools.partial(WSGIHandler.get_response, chain)
fast = application.token_api


def answer(handler, path: str):
    path, _, query = path.partition("?")
    return wsgi_get(handler, path, query, token)


def search_alone(path: str) -> bytes:
    kw = dict(parse_qsl(path.partition("?")[2]))
    rows, next_cursor = selectors.customer_page(q=kw.get("q"), cursor=int(kw["cursor"]) if "cursor" in kw else None,
                                                limit=int(kw.get("limit", 50)))
    return json_answer({"items": [_out(row) for row in rows], "next_cursor": next_cursor}).content


def list_alone(path: str) -> bytes:
    kw = dict(parse_qsl(path.partition("?")[2]))
    rows, next_cursor = contract_selectors.contract_summary_page(
        cursor=int(kw["cursor"]) if "cursor" in kw else None, limit=int(kw.get("limit", 50)))
    return json_answer({"items": [contracts_api._summary(row) for row in rows], "next_cursor": next_cursor}).content


def detail_alone(path: str) -> bytes:
    return json_answer(contracts_api._detail(contract_selectors.contract_detail(int(path.rsplit("/", 1)[1])))).content


alone = {"contract_list": list_alone, "contract_detail": detail_alone, "customer_search": search_alone}
database = connection.settings_dict["NAME"]
with tempfile.TemporaryDirectory() as folder:
    api_load.ratio_paths(database, Path(folder), per_endpoint=n, seed=1)
    all_paths = {read: (Path(folder) / f"{read}.txt").read_text().split() for read in reads}

original = fast.fast_reads.get_response
for read in reads:
    paths = all_paths[read]
    taken = []
    fast.fast_reads.get_response = lambda request: taken.append(original(request)) or taken[-1]
    for path in paths[:30]:  # warm, and hold the sides to the same answers
        assert answer(chain, path) == answer(fast, path), path
        assert answer(fast, path) == alone[read](path), path
    assert taken and all(response is not None for response in taken), f"{read}: the fast read was not taken"
    del fast.fast_reads.get_response

    sides = {"chain": functools.partial(answer, chain), "fast": functools.partial(answer, fast),
             "read alone": alone[read]}
    cpu = {side: [] for side in sides}
    for p in range(passes):
        order = list(sides) if p % 2 == 0 else list(reversed(sides))
        for side in order:
            random.Random(p).shuffle(paths)
            start = time.process_time()
            for path in paths:
                sides[side](path)
            cpu[side].append((time.process_time() - start) / len(paths) * 1000)
    median = {side: statistics.median(values) for side, values in cpu.items()}
    print(f"{read} CPU ms/req  token chain {median['chain']:.3f}  fast read {median['fast']:.3f}  "
          f"saved {median['chain'] - median['fast']:.3f} ({median['fast'] / median['chain']:.2f}×)  "
          f"read alone {median['read alone']:.3f}", flush=True)
    for side, values in cpu.items():
        print(f"  {side:10s} passes {[round(x, 3) for x in values]}")
    if os.environ.get("PROF"):
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for path in paths:
            sides["fast"](path)
        profile.disable()
        pstats.Stats(profile).sort_stats(os.environ["PROF"]).print_stats(int(os.environ.get("PROF_N", 30)))
print(f"load average {open('/proc/loadavg').read().split()[:3]}; database {database}")

"""CPU per request of the API's reads through the full middleware chain and through the
token chain (decision 0015), in one process, the two alternated on the same paths.

    PYTHONPATH=$PWD DATABASE_URL=postgres://…/db python bench/api_load/chain_ab.py TOKEN [N] [PASSES]
    PYTHONPATH=/tmp/other-tree … python bench/api_load/chain_ab.py TOKEN N PASSES app   # that tree's
        agrega.wsgi.application alone (any tree, before or after decision 0015): run it on two
        trees in turn for an A/B of the code

The database is an api_load base (bench/api_load.py: contracts, customers, the operator
whose TOKEN is given); the paths are the bench's own (``ratio_paths``: a keyset page of 50
from a random cursor, a random contract, a search by CPF or by name fragments), N per read.
Each pass calls both handlers of ``agrega.wsgi.application`` on every path, in an order
that alternates by pass, and checks that both answer the same bytes; the figure is the
process's CPU time per request (it moves far less with the machine's load than wall time).
"""
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("AGREGA_ALLOWED_HOSTS", "127.0.0.1")

# the application first, from PYTHONPATH's tree (bench/synthetic.py puts this tree first on sys.path)
from agrega.wsgi import application  # noqa: E402  (sets Django up)
from django.db import connection  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import api_load  # noqa: E402  (the bench's paths)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from wsgi_get import wsgi_get  # noqa: E402  (this folder)

token = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
passes = int(sys.argv[3]) if len(sys.argv) > 3 else 6


def call(handler, path: str) -> bytes:
    path, _, query = path.partition("?")
    return wsgi_get(handler, path, query, token)


database = connection.settings_dict["NAME"]
with tempfile.TemporaryDirectory() as folder:
    api_load.ratio_paths(database, Path(folder), per_endpoint=n, seed=1)
    reads = {e: (Path(folder) / f"{e}.txt").read_text().split() for e in api_load.READS}

app_only = len(sys.argv) > 4 and sys.argv[4] == "app"
sides = {"app": application} if app_only else {"full": application.full, "token": application.token_api}
for endpoint, paths in reads.items():
    for path in paths[:20]:  # warm both (caches, connections) and hold them to the same answers
        assert len({call(handler, path) for handler in sides.values()}) == 1, path
    cpu = {side: [] for side in sides}
    for p in range(passes):
        order = list(sides) if p % 2 == 0 else list(reversed(sides))
        for side in order:
            random.Random(p).shuffle(paths)
            start = time.process_time()
            for path in paths:
                call(sides[side], path)
            cpu[side].append((time.process_time() - start) / len(paths) * 1000)
    if app_only:
        print(f"{endpoint:16s} CPU ms/req  {statistics.median(cpu['app']):.3f}  passes "
              f"{[round(x, 3) for x in cpu['app']]}  ({Path(sys.modules['agrega'].__file__).parent.parent})", flush=True)
        continue
    full, lean = statistics.median(cpu["full"]), statistics.median(cpu["token"])
    print(f"{endpoint:16s} CPU ms/req  full {full:.3f}  token chain {lean:.3f}  "
          f"saved {full - lean:.3f} ({lean / full:.2f}×)  passes full {[round(x, 3) for x in cpu['full']]} "
          f"token {[round(x, 3) for x in cpu['token']]}", flush=True)
print(f"load average {open('/proc/loadavg').read().split()[:3]}; database {database}")

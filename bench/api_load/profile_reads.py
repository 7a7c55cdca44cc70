"""CPU per request of the API's reads inside one process: Django's WSGI handler called as
gunicorn calls it (production settings, middleware, token authentication, the view, JSON),
against the database in DATABASE_URL, with the queries each read runs.

    PYTHONPATH=$PWD DATABASE_URL=postgres://…/db python bench/api_load/profile_reads.py TOKEN [N] [ENDPOINT]
    PROF=tottime …       # and cProfile's table (PROF_N rows), kept in $AGREGA_VAR_DIR/profile_reads.prof

The database needs contracts and customers (any; a name "Maria … 40x" and the CPF
000.000.001-91 are searched) and TOKEN an API token of a user with a role. Run it with
PYTHONPATH on two trees in turn for an A/B of the Python side (bench/README.md, "api_load");
process CPU time moves far less with the machine's load than wall time does.
"""
import cProfile, os, pstats, sys, time, random
os.environ.setdefault("AGREGA_DEBUG", "0")
os.environ.setdefault("AGREGA_SECRET_KEY", "x" * 50)
os.environ.setdefault("AGREGA_CREDENTIALS_KEY", "bXl0ZXN0a2V5bXl0ZXN0a2V5bXl0ZXN0a2V5MTIzNDU=")
os.environ["AGREGA_ALLOWED_HOSTS"] = "127.0.0.1"
import django
django.setup()
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsgi_get import wsgi_get  # noqa: E402  (this folder)
token = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
only = sys.argv[3] if len(sys.argv) > 3 else None
app = WSGIHandler()
with connection.cursor() as c:
    c.execute("select id from contracts_contract order by id"); ids = [r[0] for r in c.fetchall()]
paths = {
    "contract_list": lambda r: ("/api/contracts", f"cursor={r.choice(ids)}&limit=50"),
    "contract_detail": lambda r: (f"/api/contracts/{r.choice(ids)}", ""),
    "customer_search_name": lambda r: ("/api/customers", "q=maria+40" + str(r.randint(0, 2))),
    "customer_search_cpf": lambda r: ("/api/customers", "q=" + "00000000191"),
}
def call(path, qs):
    return wsgi_get(app, path, qs, token)
queries = []
def counter(execute, sql, params, many, context):
    queries.append(sql)
    return execute(sql, params, many, context)
for name, make in paths.items():
    if only and name != only:
        continue
    r = random.Random(1)
    for _ in range(20):
        call(*make(r))
    queries.clear()
    with connection.execute_wrapper(counter):
        call(*make(r))
    q = list(queries)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        call(*make(r))
    wall, cpu = (time.perf_counter() - t0) / n * 1000, (time.process_time() - c0) / n * 1000
    print(f"{name}: {cpu:.2f} ms CPU/req, {wall:.2f} ms wall/req, {len(q)} queries")
    for s in q:
        print("    ", s[:160])
    if os.environ.get("PROF"):
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(n):
            call(*make(r))
        pr.disable()
        pr.dump_stats(os.path.join(os.environ.get("AGREGA_VAR_DIR", "/tmp"), "profile_reads.prof")); st = pstats.Stats(pr); st.sort_stats(os.environ.get("PROF"))
        st.print_stats(int(os.environ.get("PROF_N", "40")))
if os.environ.get("CALLEES"):
    name = os.environ["CALLEES"]
    r = random.Random(2)
    pr = cProfile.Profile(); pr.enable()
    for _ in range(n):
        call(*paths[name](r))
    pr.disable()
    st = pstats.Stats(pr)
    for f in os.environ.get("FUNCS", "operation.py:222(run)").split(","):
        st.print_callees(f)

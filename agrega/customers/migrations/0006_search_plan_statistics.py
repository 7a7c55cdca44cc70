"""The search's plans at 100,000 customers (PostgreSQL): rare name fragments used the index.

A search such as "sintético 3288" is ``agrega_fold(name) LIKE '%sintetico%' AND
agrega_fold(name) LIKE '%3288%' … ORDER BY id LIMIT 51``. With 100 histogram entries the
planner could only say that '%3288%' matches "under 1 %" of the customers (800 of
80,000), so it walked the primary key in id order, folding every name on the way, to
find 51 rows that were never there: 18 rows, 80,000 names folded, 0.4–0.6 s (the
api_load bench's p99 at full size, bench/README.md). Two facts for the planner:

* 1,000 histogram entries for the two trigram-indexed expressions the search filters
  on (the folded name, the upper-cased e-mail): a fragment absent from them is now
  estimated at ~0.1 %, and the bitmap of the trigram index wins (1.8 ms for the same
  query);
* ``agrega_fold`` costs what it costs: an ``unaccent`` dictionary lookup per call, not
  the default of an SQL function. At COST 1000 a plan that folds tens of thousands of
  names to find a few is priced as such.

No table or index changes; ``ANALYZE`` at once so the statistics are there. SQLite has
no planner statistics of this kind and keeps its scan.
"""

from django.db import migrations

TARGETS = ("customers_customer_name_fold_trgm", "customers_customer_email_trgm")
FOLD_COST = 1000


def tune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index in TARGETS:
        schema_editor.execute(f"ALTER INDEX {index} ALTER COLUMN 1 SET STATISTICS 1000")
    schema_editor.execute(f"ALTER FUNCTION agrega_fold(text) COST {FOLD_COST}")
    schema_editor.execute("ANALYZE customers_customer")


def untune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index in TARGETS:
        schema_editor.execute(f"ALTER INDEX {index} ALTER COLUMN 1 SET STATISTICS -1")
    schema_editor.execute("ALTER FUNCTION agrega_fold(text) COST 100")


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_fiscal_nfcom_fields")]

    operations = [migrations.RunPython(tune, untune, elidable=False)]

"""Accent-insensitive customer search on PostgreSQL (core.search).

``agrega_fold(text)``: lower case without accents, an IMMUTABLE wrapper of ``unaccent``
(itself only STABLE) so it can be indexed; GIN trigram indexes on ``agrega_fold(name)``
(words of the name anywhere, any case and accents) and on ``mobile_phone`` (a phone's
digits anywhere in the E.164). SQLite registers the same function on each connection
(core.search.install) and keeps its table scan; the model state is unchanged.
"""

from django.db import migrations

from agrega.core.search import POSTGRES_FUNCTION_SQL

INDEXES = {
    "customers_customer_name_fold_trgm": "agrega_fold(name::text) gin_trgm_ops",
    "customers_customer_mobile_trgm": "mobile_phone gin_trgm_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # unaccent and pg_trgm are trusted extensions (PostgreSQL 13+)
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(POSTGRES_FUNCTION_SQL)
    for name, expression in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON customers_customer USING gin ({expression})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute("DROP FUNCTION IF EXISTS agrega_fold(text)")


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_search_trigram_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]

"""Trigram indexes for the customer search (PostgreSQL only).

``/api/customers?q=`` matches the name or e-mail case-insensitively anywhere in the
text, or the document's digits anywhere in it: Django writes that as
``UPPER(name::text) LIKE UPPER('%…%')`` and ``document::text LIKE '%…%'``, which a btree
cannot serve, so every search read the whole table (≈150 ms at 80,000 customers, see
bench/README.md, "api_load"). GIN trigram indexes on exactly those expressions let
PostgreSQL answer from the index (a CPF: < 1 ms). SQLite keeps its table scan; the model
declares nothing, so the model state is unchanged.
"""

from django.db import migrations

INDEXES = {
    "customers_customer_name_trgm": "UPPER(name::text) gin_trgm_ops",
    "customers_customer_email_trgm": "UPPER(email::text) gin_trgm_ops",
    "customers_customer_document_trgm": "document gin_trgm_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON customers_customer USING gin ({expression})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_customer_anonymized_at")]

    operations = [migrations.RunPython(create, drop, elidable=False)]

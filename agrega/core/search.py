"""Accent- and case-insensitive text search, the same on PostgreSQL and SQLite.

``Fold(expr)`` is ``agrega_fold(expr)`` in SQL: lower case without accents. On
PostgreSQL it is an IMMUTABLE SQL function over ``unaccent`` (created by the migration
customers 0004, so a trigram index can be built on it); on SQLite a deterministic Python
function registered on every new connection. ``fold`` is the same rule in Python, applied
to what the person typed, so "JOSÉ" and "jose" find "José".
"""

from __future__ import annotations

import unicodedata

from django.db import models
from django.db.backends.signals import connection_created

from .dbapi import raw_connection

FOLD_FUNCTION = "agrega_fold"

# PostgreSQL: unaccent() is STABLE (it reads a dictionary chosen by search_path), so it
# cannot back an index; naming the dictionary makes the wrapper safe to declare IMMUTABLE.
POSTGRES_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {FOLD_FUNCTION}(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$
"""


def fold(value: str | None) -> str:
    """Lower case without accents: "Conceição" → "conceicao"."""
    text = unicodedata.normalize("NFKD", value or "")
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


class Fold(models.Func):
    function = FOLD_FUNCTION
    output_field = models.TextField()


def _register_sqlite(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        raw_connection(connection).create_function(FOLD_FUNCTION, 1, lambda v: None if v is None else fold(v),
                                                   deterministic=True)


def install() -> None:
    connection_created.connect(_register_sqlite, dispatch_uid="agrega_fold_sqlite")

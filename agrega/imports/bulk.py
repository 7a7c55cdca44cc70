"""Rows written by the import's fast path, as plain values through
``agrega.core.bulk.insert_returning`` (one statement per table and batch; Django's
``bulk_create`` spends most of an import's time preparing each field of each model).

Every concrete column is written: given values, ``auto_now``/``auto_now_add`` columns
set to now, and each other field's default — so a field another app adds later with a
default is filled here too."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from agrega.core.bulk import insert_returning


def insert(model: type[models.Model], rows: list[dict], *, returning: tuple[str, ...] = ("id",)) -> list[tuple]:
    """``rows``: {field name: value} (a foreign key's value is the id); returns the
    ``returning`` columns of each row, in the order of ``rows``."""
    if not rows:
        return []
    now = timezone.now()
    fields, defaults = [], {}
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        fields.append(field.name)
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            defaults[field.name] = now
        elif field.has_default():
            defaults[field.name] = field.get_default()
        else:
            defaults[field.name] = None
    values = [tuple(row.get(name, defaults[name]) for name in fields) for row in rows]
    return insert_returning(model, fields, values, returning=returning)

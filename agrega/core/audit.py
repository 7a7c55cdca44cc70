"""``record_change``: the author and the before/after of a change, written by services."""

from __future__ import annotations

from decimal import Decimal

from .models import ChangeRecord


def actor_label(actor) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "sistema"
    return actor.get_username()


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def diff(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the fields that changed."""
    return {k: [_plain(before.get(k)), _plain(after.get(k))] for k in after if before.get(k) != after.get(k)}


def _record(instance, action: str, actor, changes: dict | None) -> ChangeRecord:
    return ChangeRecord(
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label(actor),
        changes=changes or {},
    )


def record_change(*, instance, action: str, actor=None, changes: dict | None = None) -> ChangeRecord:
    record = _record(instance, action, actor, changes)
    record.save(force_insert=True)
    return record


def record_changes(records: list[tuple[object, dict]], *, action: str, actor=None) -> None:
    """``record_change`` for several objects of one action in one INSERT."""
    if records:
        ChangeRecord.objects.bulk_create([_record(instance, action, actor, changes) for instance, changes in records])

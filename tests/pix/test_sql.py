"""agrega/pix/sql.py against the ORM's answer, on SQLite and PostgreSQL: the webhook's
record of a callback and the batch write of the cobv answers."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.db.models import F
from django.db.models.functions import Coalesce

from agrega.pix import sql
from agrega.pix.models import ChargeStatus, PixAccount, PixCharge, PixNotification

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=dt_timezone.utc)
EARLIER = NOW - timedelta(hours=1)


def _account(name: str, secret: str, active: bool = True) -> PixAccount:
    return PixAccount.objects.create(name=name, base_url="https://psp.invalid/api/v2", client_id="c", chave="k",
                                     webhook_secret=secret, active=active)


def _orm_record(secret: str, e2eids: list[str], now) -> int:
    """What ``record_notifications`` does, row by row through the ORM."""
    account = PixAccount.objects.filter(webhook_secret=secret, active=True).first()
    if account is None or not e2eids:
        return 0
    for e2eid in e2eids:
        row, created = PixNotification.objects.get_or_create(
            account=account, e2eid=e2eid, defaults={"received_at": now, "due_at": now})
        if not created:
            PixNotification.objects.filter(pk=row.pk).update(
                deliveries=F("deliveries") + 1, due_at=Coalesce("due_at", now), attempts=0)
    return len(e2eids)


def _inbox(account) -> list[tuple]:
    return list(PixNotification.objects.filter(account=account).order_by("e2eid").values_list(
        "e2eid", "received_at", "deliveries", "due_at", "attempts", "outcome", "last_error"))


def test_record_notifications_equals_the_orm():
    by_sql, by_orm = _account("a", "s-sql"), _account("b", "s-orm")
    _account("c", "s-off", active=False)
    for account in (by_sql, by_orm):  # one done, one still due with attempts
        PixNotification.objects.create(account=account, e2eid="E1", received_at=EARLIER, due_at=None,
                                       attempts=3, outcome="applied")
        PixNotification.objects.create(account=account, e2eid="E2", received_at=EARLIER, due_at=EARLIER,
                                       attempts=2)
    names = ["E1", "E2", "E3", "E4"]
    assert sql.record_notifications(secret="s-sql", e2eids=names, now=NOW, channel="agrega_test") == 4
    assert _orm_record("s-orm", names, NOW) == 4
    assert _inbox(by_sql) == _inbox(by_orm)
    got = {row[0]: row for row in _inbox(by_sql)}
    assert got["E1"][2:5] == (2, NOW, 0) and got["E2"][2:5] == (2, EARLIER, 0) and got["E3"][2:4] == (1, NOW)
    # an unknown or inactive account's secret, or nothing named: nothing written
    before = PixNotification.objects.count()
    assert sql.record_notifications(secret="s-off", e2eids=["E9"], now=NOW) == 0
    assert sql.record_notifications(secret="nope", e2eids=["E9"], now=NOW) == 0
    assert sql.record_notifications(secret="s-sql", e2eids=[], now=NOW) == 0
    assert PixNotification.objects.count() == before


def _charges(account, invoices, tag: str) -> list[PixCharge]:
    return [PixCharge.objects.create(invoice=invoice, account=account, txid=f"{tag}{n:030d}")
            for n, invoice in enumerate(invoices)]


def _answer(charge: PixCharge, n: int) -> PixCharge:
    """A charge as a batch leaves it after its PUT: the answer's fields set in memory."""
    charge.status = ChargeStatus.ACTIVE
    charge.pix_copia_e_cola = f"00020101{n}"
    charge.location = f"psp.invalid/cobv/{n}"
    charge.revisao = n
    charge.last_error = ""
    charge.updated_at = NOW
    charge.amount_sent = Decimal("109.90") + n
    charge.due_sent = date(2026, 12, 10) + timedelta(days=n)
    charge.terms_sent = {"multa": {"modalidade": 2, "valorPerc": "2.00"}, "n": n}
    charge.attempts = n + 1
    return charge


def _stored(charges) -> list[tuple]:
    rows = {c.pk: c for c in PixCharge.objects.filter(pk__in=[c.pk for c in charges])}
    return [(r.status, r.pix_copia_e_cola, r.location, r.revisao, r.updated_at, r.amount_sent, r.due_sent,
             r.terms_sent, r.attempts) for r in (rows[c.pk] for c in charges)]


def test_write_charges_equals_save_with_update_fields(billed):
    from agrega.pix.services import CREATED_FIELDS

    invoices = [billed()[1] for _ in range(4)]
    account = _account("a", "s")
    by_sql, by_orm = _charges(account, invoices[:2], "S"), _charges(account, invoices[2:], "O")

    sql.write_charges([_answer(c, n) for n, c in enumerate(by_sql)], CREATED_FIELDS)
    for n, charge in enumerate(by_orm):
        # updated_at is auto_now: save() would stamp the clock, so the ORM side writes it as given
        PixCharge.objects.filter(pk=charge.pk).update(
            **{name: getattr(_answer(charge, n), name) for name in CREATED_FIELDS})

    assert _stored(by_sql) == _stored(by_orm)
    assert _stored(by_sql)[1][:4] == (ChargeStatus.ACTIVE, "000201011", "psp.invalid/cobv/1", 1)
    sql.write_charges([], CREATED_FIELDS)  # nothing to do

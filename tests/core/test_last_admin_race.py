"""Two administrators demoting each other at once must not leave Agrega without one.

The first demotion holds its transaction open (its row locks held) while the second
starts; the second waits for the locks and, once the first commits, must see it and be
refused with ``last_admin``. On PostgreSQL only: SQLite runs one writer at a time."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from agrega.core import services
from agrega.core.errors import ApplicationError
from agrega.core.roles import Role, assign_role

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL"),
]


@pytest.mark.parametrize("change", ["set_role", "deactivate"])
def test_concurrent_demotions_keep_one_administrator(change):
    users = get_user_model().objects
    a, b = users.create_user("adm-a"), users.create_user("adm-b")
    for user in (a, b):
        assign_role(user, Role.ADMIN)

    def demote(user):
        if change == "set_role":
            services.user_set_role(actor=None, user_id=user.pk, role=Role.OPERATOR)
        else:
            services.user_deactivate(actor=None, user_id=user.pk)

    first_done, release, outcome = threading.Event(), threading.Event(), {}

    def first():
        try:
            with transaction.atomic():
                demote(b)
                first_done.set()
                release.wait(10)  # keep the locks a while
        finally:
            connection.close()

    def second():
        first_done.wait(10)
        try:
            demote(a)
            outcome["second"] = "ok"
        except ApplicationError as exc:
            outcome["second"] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_done.wait(10)
    time.sleep(0.5)  # the second is now waiting for the first's locks
    release.set()
    for t in threads:
        t.join(30)
    assert outcome["second"] == "last_admin"
    admins = [u for u in users.all() if u.is_active and u.groups.filter(name=Role.ADMIN).exists()]
    assert [u.username for u in admins] == ["adm-a"]

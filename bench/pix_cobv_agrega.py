"""Agrega's side of bench/pix_cobv: the same number of cobranças, but as Agrega makes them
— one ``services.charge_sync`` per título (read the título and its customer, ``PUT
/cobv/{txid}`` through Agrega's PSP client with its token cache, 429/Retry-After and
backoff, store the copia-e-cola), at the same concurrency, against a fresh account.

The títulos are created when this module is loaded (before bench/pix_cobv starts its
clock): ``--count`` contracts billed once, with bulk inserts, in a throw-away SQLite file
(or ``DATABASE_URL``)."""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta


def _count() -> int:
    argv = sys.argv
    for i, arg in enumerate(argv):
        if arg == "--count" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--count="):
            return int(arg.split("=", 1)[1])
    return 100_000


def _setup(count: int) -> list[int]:
    tmp = tempfile.mkdtemp(prefix="pixcobv-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault("AGREGA_SECRET_KEY", "agrega-bench-secret-key-not-for-production-0123456789")
    os.environ.setdefault("AGREGA_CREDENTIALS_KEY", "YmVuY2gtY3JlZGVudGlhbHMta2V5LTMyLWJ5dGVzLi4=")
    os.environ.setdefault("AGREGA_EGRESS_ALLOW", "127.0.0.1/32")
    os.environ["AGREGA_VAR_DIR"] = tmp
    os.environ["DJANGO_SETTINGS_MODULE"] = "agrega.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from agrega.billing.models import Invoice
    from agrega.contracts.models import Contract
    from agrega.core.br import make_cpf
    from agrega.customers.models import Customer

    if connection.vendor == "postgresql" and "billing_invoice" in connection.introspection.table_names():
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    now = timezone.now()
    Customer.objects.bulk_create([Customer(name=f"Cliente {i}", document=make_cpf(700_000 + i), person_type="F",
                                           email=f"c{i}@bench.example.com") for i in range(count)], batch_size=5000)
    customers = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    Contract.objects.bulk_create([Contract(customer_id=c, status="A", access_status="A", billing_day=10,
                                           activated_at=now) for c in customers], batch_size=5000)
    contracts = list(Contract.objects.order_by("pk").values_list("pk", "customer_id"))
    period, due = date.today().replace(day=1), date.today() + timedelta(days=15)
    Invoice.objects.bulk_create([Invoice(contract_id=k, customer_id=c, period=period, issued_on=date.today(),
                                         due_date=due, amount=f"{50 + k % 200}.90") for k, c in contracts],
                                batch_size=5000)
    return list(Invoice.objects.order_by("pk").values_list("pk", flat=True))


INVOICES = _setup(_count())


def run(psp: dict, count: int, concurrency: int) -> int:
    from agrega.pix import services
    from agrega.pix.client import PixClient
    from agrega.pix.models import ChargeStatus, PixCharge

    account = services.account_create(name="PSP bench", base_url=psp["api_url"], token_url=psp["token_url"],
                                      client_id=psp["client_id"], client_secret=psp["client_secret"],
                                      chave=psp["chave"])
    client = PixClient.for_account(account, retries=100)
    client.http()  # one pooled client for every thread, like the task worker's

    def one(invoice_id: int) -> None:
        from django.db import connection

        try:
            services.charge_sync(invoice_id=invoice_id, client=client)
        finally:
            connection.close()

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, INVOICES[:count]))
    client.close()
    return PixCharge.objects.filter(status=ChargeStatus.ACTIVE).count()

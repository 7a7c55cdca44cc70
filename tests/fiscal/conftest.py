"""Fiscal fixtures: an emitter with its A1 certificate, products with fiscal data, and
títulos billed by the real billing run."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.utils import timezone

from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

from sefaz_sandbox.pki import make_a1

CNPJ = "11222333000181"
PASSWORD = "senha"
DEC = date(2026, 12, 1)


@pytest.fixture(scope="session")
def sefaz_sandbox():
    """The fiscal tests' own SEFAZ sandbox process (same fixture name, so ``sefaz_admin``
    drives it): they reset its documents and inject faults, which must not meet the
    counters that tests/sefaz asserts on in the same session."""
    from sefaz_sandbox.testing import SandboxProcess

    with SandboxProcess() as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def a1(sefaz_sandbox):
    """(PKCS#12, certificate PEM) issued by the sandbox's CA, so the sandbox accepts it."""
    p12 = make_a1(cnpj=CNPJ, razao="PROVEDOR TESTE LTDA", password=PASSWORD, ca=sefaz_sandbox.ca)
    cert = pkcs12.load_key_and_certificates(p12, PASSWORD.encode())[1]
    return p12, cert.public_bytes(Encoding.PEM)


@pytest.fixture(autouse=True)
def _trust_sandbox(settings, sefaz_sandbox):
    settings.FISCAL_SEFAZ_CA_BUNDLE = sefaz_sandbox.ca_path
    settings.FISCAL_SEFAZ_TIMEOUT = 3


@pytest.fixture(autouse=True)
def _manual_emission(settings):
    """Tests emit by hand (the automatic emission after a run has its own test)."""
    settings.FISCAL_AUTO_EMIT = False


@pytest.fixture
def tax_rules(db):
    """The seeded rules (a transactional test's flush removes what migrations seeded)."""
    import importlib

    from django.apps import apps

    from agrega.fiscal.models import TaxRule

    if not TaxRule.objects.exists():
        importlib.import_module("agrega.fiscal.migrations.0002_seed_tax_rules").seed(apps, None)


@pytest.fixture
def emitter(db, a1, tax_rules, sefaz_sandbox):
    from agrega.fiscal.services import certificate_upload, emitter_save

    # each test's database starts empty, so its numbers (and keys) start again: the
    # sandbox forgets the previous test's documents too
    sefaz_sandbox.admin.reset()
    sefaz_sandbox.admin.clear_faults()

    e = emitter_save(cnpj=CNPJ, ie="1234567890", razao_social="PROVEDOR TESTE LTDA", street="Rua das Fibras",
                     number="100", district="Centro", city="Curitiba", ibge_code="4106902", uf="PR",
                     zip_code="80010-000", crt=3, environment=2, serie=1, sefaz_url=sefaz_sandbox.url)
    certificate_upload(pkcs12=a1[0], password=PASSWORD)
    e.refresh_from_db()
    return e


@pytest.fixture
def fiscal_products(db, make_product):
    from agrega.fiscal.services import product_fiscal_save

    internet = make_product(name="Internet 300 Mega", price="79.90", fiscal_class="SCM")
    sva = make_product(name="Streaming Kids", price="20.10", fiscal_class="SVA")
    product_fiscal_save(product_id=internet.pk, kind="SCM", cclass_code="0100401", cfop="5307")
    product_fiscal_save(product_id=sva.pk, kind="SVA", cclass_code="1100101")
    return internet, sva


@pytest.fixture
def fiscal_customer(make_customer):
    def make(**kw):
        data = dict(street="Rua B", number="20", district="Batel", city="Curitiba", state="PR",
                    zip_code="80420000", ibge_code="4106902", ind_ie_dest="9")
        data.update(kw)
        return make_customer(**data)
    return make


@pytest.fixture
def billed(db, fiscal_products, fiscal_customer, make_contract):
    """``billed(n)`` → n títulos of December 2026, each with an SCM and an SVA line."""
    from agrega.billing.models import Invoice
    from agrega.billing.services import billing_run
    from agrega.contracts.models import Contract
    from agrega.contracts.services import contract_activate, contract_add_product

    def make(n: int = 1, **customer):
        internet, sva = fiscal_products
        start = timezone.make_aware(datetime(2026, 10, 5, 12))
        ids = []
        for _ in range(n):
            contract = make_contract(customer=fiscal_customer(**customer), billing_day=10)
            contract_add_product(contract=contract, product_id=internet.pk)
            contract_add_product(contract=contract, product_id=sva.pk)
            contract_activate(contract=contract)
            Contract.objects.filter(pk=contract.pk).update(activated_at=start)
            contract.products.update(added_at=start)
            ids.append(contract.pk)
        billing_run(period=DEC, today=date(2026, 12, 1), workers=1)
        return list(Invoice.objects.filter(contract_id__in=ids).order_by("pk"))
    return make


def issue_time():
    return timezone.make_aware(datetime(2026, 12, 1, 9, 0))


@pytest.fixture(autouse=True)
def _tasks_run_when_enqueued(settings):
    """These tests follow the PIX/NFCom flows through their tasks without a task worker:
    django-tasks' immediate backend runs each task when it is enqueued (after the commit),
    in this process. The database backend and the worker are tested in tests/core."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

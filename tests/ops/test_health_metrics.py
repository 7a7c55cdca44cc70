"""/healthz, /readyz, /metrics and the security headers, as a monitoring system sees them."""

import pytest
from django.test import Client

from agrega.integrations.connectors.registry import connector_class
from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


def sample_values(name: str, text: str) -> dict[tuple, float]:
    """``{sorted label pairs: value}`` of the samples called ``name``, read by prometheus_client's parser."""
    from prometheus_client.parser import text_string_to_metric_families

    return {tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples if s.name == name}


def test_healthz_and_readyz_answer_without_login():
    client = Client()
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"] == {"ok": True, "pending": 0}


def test_readyz_is_unavailable_when_a_migration_is_pending(settings):
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.recorder import MigrationRecorder

    # Forget the newest migration of one app (a leaf), as after deploying code before migrating.
    (leaf,) = MigrationLoader(connection).graph.leaf_nodes("dunning")
    MigrationRecorder(connection).migration_qs.filter(app=leaf[0], name=leaf[1]).delete()
    response = Client().get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["migrations"]["pending"] >= 1


def test_metrics_expose_users_calls_circuit_jobs_and_contracts(platform_integration, make_product, make_contract,
                                                               converge):
    from agrega.contracts.services import contract_activate, contract_add_product
    from agrega.core.jobs import run_job

    product = make_product(platform_integration)
    for _ in range(3):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        contract_activate(contract=contract)
    assert sample_values("agrega_sva_users_pending", Client().get("/metrics").content.decode()) == {
        (("integration", platform_integration.name), ("waiting", "sync")): 3}
    converge()
    run_job("dunning.expire_trust_releases", force=True)
    response = Client().get("/metrics")
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    users = sample_values("agrega_sva_users", text)
    assert users[(("integration", platform_integration.name), ("state", "active"))] == 3
    calls = sample_values("agrega_platform_calls_total", text)
    created = {k: v for k, v in calls.items() if dict(k)["operation"] == "create_user"}
    assert list(created.values()) == [3]
    ((labels, _),) = created.items()
    assert dict(labels)["status"].startswith("20") and dict(labels)["error"] == ""
    assert sample_values("agrega_circuit_open", text) == {(("integration", platform_integration.name),): 0}
    assert sample_values("agrega_job_last_success", text)[(("job", "dunning.expire_trust_releases"),)] == 1
    assert sample_values("agrega_contracts", text) == {(("access_status", "A"), ("status", "A")): 3}
    assert sample_values("agrega_sva_users_pending", text) == {}


def test_metrics_parse_as_prometheus_text_with_our_names_and_labels(platform_integration, make_product, make_contract):
    """What a Prometheus server reads: prometheus_client's own parser takes the whole page,
    every family has HELP and TYPE, and the names, kinds and label sets are ours."""
    from prometheus_client.parser import text_string_to_metric_families

    from agrega.contracts.services import contract_activate, contract_add_product

    product = make_product(platform_integration)
    contract = make_contract()
    contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    families = {f.name: f for f in text_string_to_metric_families(Client().get("/metrics").content.decode())}
    kinds = {name: f.type for name, f in families.items()}
    assert kinds == {
        "agrega_sva_users": "gauge", "agrega_sva_users_pending": "gauge",
        "agrega_sva_convergence_lag_seconds": "gauge", "agrega_platform_calls": "counter",
        "agrega_circuit_open": "gauge", "agrega_integration_consecutive_failures": "gauge",
        "agrega_job_last_duration_seconds": "gauge", "agrega_job_last_success": "gauge",
        "agrega_job_runs": "counter", "agrega_contracts": "gauge", "agrega_invoices_overdue": "gauge",
    }
    assert all(f.documentation for f in families.values())
    (pending,) = families["agrega_sva_users_pending"].samples
    assert pending.labels == {"integration": platform_integration.name, "waiting": "sync"} and pending.value == 1
    (contracts,) = families["agrega_contracts"].samples
    assert contracts.labels == {"status": "A", "access_status": "A"} and contracts.value == 1
    (overdue,) = families["agrega_invoices_overdue"].samples
    assert overdue.labels == {} and overdue.value == 0
    assert {s.labels["integration"] for s in families["agrega_circuit_open"].samples} == {platform_integration.name}


def test_metrics_token_when_configured(settings):
    settings.METRICS_TOKEN = "s3gredo"
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert Client().get("/metrics", **outside).status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer errado", **outside).status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3gredo", **outside).status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200  # loopback: internal


@pytest.mark.parametrize("remote,headers,status", [
    ("127.0.0.1", {}, 200), ("::1", {}, 200), ("10.1.2.3", {}, 401), ("192.168.0.5", {}, 401),
    ("203.0.113.9", {}, 401),
    # a client's own X-Forwarded-For is ignored when no proxy is trusted
    ("203.0.113.9", {"HTTP_X_FORWARDED_FOR": "127.0.0.1"}, 401),
])
def test_metrics_without_a_token_only_for_internal_addresses(settings, remote, headers, status):
    settings.METRICS_TOKEN = ""
    answer = Client().get("/metrics", REMOTE_ADDR=remote, **headers)
    assert answer.status_code == status
    if status == 401:
        assert "AGREGA_METRICS_TOKEN" in answer.json()["error"]["message"]


def test_metrics_behind_a_trusted_proxy_use_the_forwarded_address(settings):
    """A proxy on the same machine must not make every outside client look internal."""
    settings.METRICS_TOKEN = ""
    settings.TRUSTED_PROXIES = "127.0.0.1"
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1",
                        HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 401
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1",
                        HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200
    settings.INTERNAL_NETWORKS = "10.0.0.0/8"
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1",
                        HTTP_X_FORWARDED_FOR="10.4.4.4").status_code == 200


def test_security_headers_on_pages_and_api():
    client = Client()
    page = client.get("/entrar/")
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "default-src 'self'" in page["Content-Security-Policy"]
    assert "script-src 'self';" in page["Content-Security-Policy"]  # no inline script, no eval
    api = client.get("/api/customers")
    assert api.status_code == 401 and api["Cache-Control"] == "no-store"


def test_personal_data_never_reaches_the_logs(caplog):
    import logging

    from agrega.ops.logging import JsonFormatter, RedactPersonalData

    record = logging.LogRecord("agrega.test", logging.INFO, __file__, 1,
                               "cliente %s e-mail %s celular %s", ("529.982.247-25", "ana@ex.com.br",
                                                                   "+5511987654321"), None)
    RedactPersonalData().filter(record)
    line = JsonFormatter().format(record)
    assert "529.982.247-25" not in line and "ana@ex.com.br" not in line and "987654321" not in line
    assert '"message": "cliente [cpf] e-mail [e-mail] celular [telefone]"' in line


def test_the_configured_console_handler_redacts_and_a_real_flow_leaks_nothing(
        platform_integration, make_product, make_customer, make_contract, converge):
    import io
    import logging

    from agrega.contracts.services import contract_activate, contract_add_product

    console = next(h for h in logging.getLogger().handlers if any(
        type(f).__name__ == "RedactPersonalData" for f in h.filters))
    stream, console.stream = console.stream, io.StringIO()
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        customer = make_customer(email="vazamento@example.com.br", mobile_phone="(11) 91234-5678")
        contract = make_contract(customer=customer)
        contract_add_product(contract=contract, product_id=make_product(platform_integration).pk)
        contract_activate(contract=contract)
        converge()
        logging.getLogger("agrega.test").warning("cliente %s %s", customer.document, customer.email)
        output = console.stream.getvalue()
    finally:
        console.stream = stream
        logging.getLogger().setLevel(root_level)
    assert "cliente [cpf] [e-mail]" in output
    # the credentials the connector declares secret (a client secret, a signing secret…)
    declared = connector_class(platform_integration.platform).credential_fields
    secrets = [platform_integration.credentials[f.name] for f in declared if f.secret and f.required]
    assert secrets
    for secret in (customer.document, customer.email, "91234-5678", "912345678", *secrets):
        assert secret not in output


def test_convergence_lag_is_the_age_of_the_oldest_pending_change(platform_integration, make_product, make_contract,
                                                                 converge):
    from datetime import timedelta

    from django.utils import timezone

    from agrega.contracts.services import contract_activate, contract_add_product, contract_block_manual
    from agrega.sva.models import SvaPendingWork, SvaUser

    contract = make_contract()
    contract_add_product(contract=contract, product_id=make_product(platform_integration).pk)
    contract_activate(contract=contract)
    converge()
    SvaUser.objects.update(last_attempt_at=timezone.now() - timedelta(days=30))  # an old attempt must not count
    contract_block_manual(contract=contract)
    SvaPendingWork.objects.update(queued_at=timezone.now() - timedelta(seconds=120))  # queued 2 min ago
    text = Client().get("/metrics").content.decode()
    (lag,) = sample_values("agrega_sva_convergence_lag_seconds", text).values()
    assert 120 <= lag < 600
    converge()
    text = Client().get("/metrics").content.decode()
    assert list(sample_values("agrega_sva_convergence_lag_seconds", text).values()) == [0]


def test_an_alphanumeric_cnpj_never_reaches_the_logs():
    from agrega.ops.logging import redact

    for shown in ("12ABC34501DE35", "12.ABC.345/01DE-35", "12.abc.345/01de-35"):
        assert redact(f"cliente {shown} criado") == "cliente [cnpj] criado"
    # the same shape without valid check digits (an id, a hash) stays
    assert redact("lote 12ABC34501DE36 ok") == "lote 12ABC34501DE36 ok"

"""Schemathesis against the served OpenAPI document: generated requests (valid and
invalid) to every operation find no server error and no answer outside the schema."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from agrega.wsgi import application

# Examples per operation: small by default so the suite stays fast; CI's deep run sets
# AGREGA_FUZZ_EXAMPLES=50 (.ci/run).
EXAMPLES = int(os.environ.get("AGREGA_FUZZ_EXAMPLES", "4"))

# Loaded from the running application, as a client would (no database needed for it).
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@pytest.fixture
def keep_test_connection():
    """The WSGI app closes the database connection after each request; inside a test's
    transaction it must not (Django's own test client disconnects the same handlers)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.usefixtures("keep_test_connection")
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_within_its_schema(case, api_token, settings):
    # the webhook on, so it answers 401 (bad signature) rather than 503 (switched off)
    settings.PAYMENT_WEBHOOK_SECRET = "segredo-de-teste"
    # What is checked: no server error, and every answer (status, headers, body) within
    # the schema. Left out: a request the schema allows may still break a business rule
    # (an empty period, an unknown id) and rightly get a 4xx; and pydantic's lax parsing
    # takes "+0.0" for the integer 0, which schemathesis counts as accepting bad input.
    case.call_and_validate(headers={"Authorization": f"Bearer {api_token}"},
                           excluded_checks=[positive_data_acceptance, negative_data_rejection])

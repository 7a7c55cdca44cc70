"""Every change has an author: ChangeRecord for customers, products, integrations, SVA users."""

import json

import pytest

from agrega.core.models import ChangeRecord
from agrega.integrations.connectors.registry import connector_class
from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db
sva_platform = default_platform_only()  # Agrega's audit, not a platform's: the neutral fixtures


def test_customer_changes_record_the_author_and_the_diff(api, api_user):
    created = api.post("/customers", {"name": "Autor", "document": "529.982.247-25"}).json()
    api.patch(f"/customers/{created['id']}", {"email": "autor@example.com.br"})
    records = list(ChangeRecord.objects.filter(object_type="customers.customer", object_id=str(created["id"])))
    assert [r.action for r in records] == ["update", "create"]
    assert all(r.actor_label == api_user.username and r.actor_id == api_user.pk for r in records)
    assert records[0].changes == {"email": ["", "autor@example.com.br"]}


def test_integration_records_never_hold_credentials(api, sva_platform, platform_account):
    fields = platform_account.integration_fields()
    created = api.post("/integrations", {"name": "Auditoria", "platform": sva_platform, **fields}).json()
    # new values for the credentials the connector requires (a client id and secret, a signing secret…)
    new = {f.name: f"novo-{f.name}-valor" for f in connector_class(sva_platform).credential_fields if f.required}
    api.patch(f"/integrations/{created['id']}", {"credentials": {**fields["credentials"], **new}})
    dump = json.dumps([r.changes for r in ChangeRecord.objects.filter(object_type="integrations.svaintegration")])
    given = [v for v in fields["credentials"].values() if isinstance(v, str) and v]
    assert given and new
    for secret in (*given, *new.values()):
        assert secret not in dump
    assert '"alteradas"' in dump

"""Every change has an author: ChangeRecord for customers, products, integrations, SVA users."""

import json

import pytest

from agrega.core.models import ChangeRecord

pytestmark = pytest.mark.django_db


def test_customer_changes_record_the_author_and_the_diff(api, api_user):
    created = api.post("/customers", {"name": "Autor", "document": "529.982.247-25"}).json()
    api.patch(f"/customers/{created['id']}", {"email": "autor@example.com.br"})
    records = list(ChangeRecord.objects.filter(object_type="customers.customer", object_id=str(created["id"])))
    assert [r.action for r in records] == ["update", "create"]
    assert all(r.actor_label == api_user.username and r.actor_id == api_user.pk for r in records)
    assert records[0].changes == {"email": ["", "autor@example.com.br"]}


def test_integration_records_never_hold_credentials(api, exa_account):
    body = {"name": "EXA", "platform": "exa", "base_url": exa_account.url, "prefix": exa_account.prefix,
            "credentials": {"client_id": exa_account.client_id, "client_secret": exa_account.client_secret}}
    created = api.post("/integrations", body).json()
    api.patch(f"/integrations/{created['id']}", {"credentials": {"client_id": "novo-id", "client_secret": "novo-segredo"}})
    dump = json.dumps([r.changes for r in ChangeRecord.objects.filter(object_type="integrations.svaintegration")])
    for secret in (exa_account.client_secret, "novo-segredo", exa_account.client_id, "novo-id"):
        assert secret not in dump
    assert '"alteradas"' in dump

"""The "Webhook genérico" connector against the real receiving sandbox
(``python -m webhook_sandbox``): the shared contract suite, then the webhook's own checks
(signature, rotation, stable event ids). No mocks: every event is a real signed POST."""

from __future__ import annotations

import secrets
import time
from contextlib import closing
from typing import Any

import httpx
import pytest

from agrega.integrations.connectors.base import (
    ErrorKind,
    IntegrationConfig,
    RemoteStatus,
    RemoteUser,
)
from agrega.integrations.connectors.contract_tests import ConnectorContractTests
from agrega.integrations.connectors.webhook import signing
from agrega.integrations.connectors.webhook.connector import WebhookConnector
from agrega.integrations.connectors.webhook.testing import CATALOGUE, SandboxKit
from webhook_sandbox.store import verify


class WebhookAccountMixin:
    connector_class = WebhookConnector
    package_codes = SandboxKit.package_codes[:2]

    @pytest.fixture(autouse=True)
    def _account(self, sandboxes):
        kit = sandboxes.get("webhook")
        self.kit = kit
        with kit.admin() as admin:
            self.admin = admin
            self.account = kit.new_account(admin)
            self.credentials = dict(self.account.credentials)
            yield
            admin.clear_faults()

    def make_connector(self, *, recorder: Any = None, timeout_seconds: float = 5.0,
                       credentials: dict[str, str] | None = None, base_url: str | None = None):
        return WebhookConnector(IntegrationConfig(
            base_url=base_url or self.account.url, prefix="",
            credentials=credentials if credentials is not None else self.credentials,
            timeout_seconds=timeout_seconds), recorder=recorder)

    def inject_fault(self, kind: str, **options: Any) -> None:
        self.kit.inject_fault(self.admin, self.account, kind, **options)

    def clear_faults(self) -> None:
        self.admin.clear_faults()

    def platform_user(self, external_id: str) -> RemoteUser | None:
        found = self.account.user(external_id)
        if found is None:
            return None
        return RemoteUser(remote_id=found["external_id"], status=RemoteStatus(found["status"]),
                          **{k: found[k] for k in ("external_id", "name", "email", "phone", "document",
                                                   "package_code")})


class TestWebhookContract(WebhookAccountMixin, ConnectorContractTests):
    """The shared suite; checks needing a lookup or a listing are skipped by capability."""


class TestWebhookOwn(WebhookAccountMixin):
    def test_signature_verifies_as_documented_and_tampering_fails(self):
        body = signing.canonical({"id": "evt_1", "type": "ping", "data": {}})
        now = int(time.time())
        header = signing.header(["s3cret"], now, body)
        assert verify(["s3cret"], header, body)
        assert not verify(["other"], header, body)
        assert not verify(["s3cret"], header, body + b" ")
        assert not verify(["s3cret"], signing.header(["s3cret"], now - 3600, body), body)  # replayed later

    def test_rotation_signs_with_both_secrets_until_the_platform_switches(self):
        new = "whsec_" + secrets.token_urlsafe(16)
        old = self.credentials["signing_secret"]
        rotating = {**self.credentials, "signing_secret": new, "previous_signing_secret": old}
        with closing(WebhookConnector(IntegrationConfig(self.account.url, "", rotating))) as connector:
            connector.check_credentials()  # the platform still knows only the old secret
            self.admin.create_account(self.account.prefix, [new])  # the platform switched
            connector.check_credentials()
        with closing(self.make_connector()) as stale:  # only the old secret: refused now
            with pytest.raises(Exception) as info:
                stale.check_credentials()
            assert info.value.kind is ErrorKind.AUTH

    def test_same_intent_same_event_id_other_intent_other_id(self):
        records = []
        with closing(self.make_connector(recorder=records.append)) as connector:
            spec = ConnectorContractTests.spec(self)
            connector.create_user(spec)
            connector.create_user(spec)  # retried: the same intent
            connector.block_user(spec.external_id)
        ids = [r.response["event_id"] for r in records]
        assert ids[0] == ids[1] and ids[2] != ids[0]
        assert self.admin.stats()["replays"] >= 1
        assert len([u for u in self.account.users() if u["external_id"] == spec.external_id]) == 1

    def test_update_sends_the_whole_state_status_included(self):
        with closing(self.make_connector()) as connector:
            spec = ConnectorContractTests.spec(self)
            connector.create_user(spec)
            from dataclasses import replace
            changed = replace(spec, package_code=self.package_codes[1], status=RemoteStatus.BLOCKED)
            connector.update_user(changed)
        held = self.platform_user(spec.external_id)
        assert (held.package_code, held.status) == (self.package_codes[1], RemoteStatus.BLOCKED)

    def test_catalogue_is_the_declared_one_and_lookup_is_not_offered(self):
        with closing(self.make_connector()) as connector:
            assert [p.code for p in connector.list_packages()] == list(SandboxKit.package_codes)
            assert connector.get_user("anyone") is None
            with pytest.raises(Exception) as info:
                connector.list_users()
            assert info.value.code == "not_supported"
        assert CATALOGUE.count("=") == 3

    def test_the_event_on_the_wire(self):
        """A platform reads exactly what docs/connectors/webhook.md says: headers and body."""
        body = signing.canonical({"id": "evt_x", "type": "ping", "account": "", "data": {}, "created": 1})
        response = httpx.post(self.account.url, content=body, headers={
            "Agrega-Signature": signing.header([self.credentials["signing_secret"]], int(time.time()), body)})
        assert response.status_code == 200
        unsigned = httpx.post(self.account.url, content=body)
        assert unsigned.status_code == 401

"""Every registered connector declares what the core reads (connectors/base.py), and the
registry answers capabilities from those declarations only."""

from __future__ import annotations

import pytest

from agrega.integrations.connectors import registry
from agrega.integrations.connectors.base import (
    Capability,
    CredentialField,
    DataRules,
    RemoteStatus,
    RemoteUser,
    declared,
    settled,
)


@pytest.mark.parametrize("platform", list(registry.PLATFORMS))
def test_every_connector_is_declared(platform):
    cls = registry.connector_class(platform)
    assert cls.platform == platform and cls.label
    assert isinstance(cls.needs_prefix, bool) and isinstance(cls.data_rules, DataRules)
    assert all(isinstance(c, Capability) for c in cls.capabilities)
    assert any(f.secret and f.required for f in cls.credential_fields)
    for capability in Capability:
        assert registry.platform_allows(platform, capability.value) is (capability in cls.capabilities)
    assert cls.one_account_per_customer is (Capability.ONE_ACCOUNT_PER_CUSTOMER in cls.capabilities)
    assert registry.platform_allows(platform, "can_change_package") is cls.can_change_package


def test_an_incomplete_declaration_is_refused_at_import():
    with pytest.raises(TypeError, match="needs_prefix"):
        @declared
        class Missing:
            platform, label, capabilities, data_rules = "x", "X", frozenset(), DataRules()
            credential_fields = (CredentialField("token", "Token"),)

    with pytest.raises(TypeError, match="required secret"):
        @declared
        class NoSecret:
            platform, label, capabilities, data_rules, needs_prefix = "x", "X", frozenset(), DataRules(), False
            credential_fields = (CredentialField("id", "ID", secret=False),)


def test_unknown_platform_allows_nothing():
    assert registry.platform_allows("nada", "list_users") is False


def test_settled_keeps_the_known_data_when_the_answer_has_only_the_status():
    known = RemoteUser("e1", "r1", "Ana", "ana@example.com.br", "+5511987654321", "52998224725", "P1",
                       RemoteStatus.ACTIVE)
    bare = RemoteUser("e1", "", "", "", "", "", "", RemoteStatus.BLOCKED)  # no remote id either
    assert settled(known, bare) == RemoteUser("e1", "r1", "Ana", "ana@example.com.br", "+5511987654321",
                                              "52998224725", "P1", RemoteStatus.BLOCKED)
    full = RemoteUser("e1", "r2", "Ana B", "b@example.com.br", "+5511987654321", "52998224725", "P2",
                      RemoteStatus.BLOCKED)
    assert settled(known, full) == full

"""API clients with real tokens (tests/api/conftest.py) and one per role."""

import pytest
from django.contrib.auth import get_user_model

from agrega.core.models import ApiToken
from agrega.core.roles import assign_role
from tests.api.conftest import ApiClient, anonymous, api, api_token, api_user  # noqa: F401


@pytest.fixture
def api_as(db):
    def make(role: str) -> ApiClient:
        user = get_user_model().objects.create_user(f"u-{role.replace(' ', '-')}", password="senha-de-teste-123")
        assign_role(user, role)
        _, raw = ApiToken.issue(user=user, name="testes")
        return ApiClient(raw)

    return make


@pytest.fixture
def smtp_server():
    from .smtp_server import SmtpServer

    with SmtpServer() as server:
        yield server


@pytest.fixture
def closed_port():
    """A local port nothing listens on (bound, then released)."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port

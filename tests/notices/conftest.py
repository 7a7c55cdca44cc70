"""The notices tests' own servers: a local SMTP server and a port nothing listens on
(API clients come from tests/fixtures_api.py, a plugin)."""

import pytest


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

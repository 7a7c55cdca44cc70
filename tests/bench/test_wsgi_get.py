"""bench/api_load/wsgi_get.wsgi_get: the in-process GET that profile_reads.py and
chain_ab.py time, through Agrega's WSGI application with a token; anything but a 200
stops the bench."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "api_load"))
from wsgi_get import wsgi_get  # noqa: E402


@pytest.mark.django_db(transaction=True)
def test_wsgi_get_answers_through_the_application_with_the_token(role_user, settings):
    from agrega.core.models import ApiToken
    from agrega.wsgi import application

    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    _, token = ApiToken.issue(user=role_user("bench-leitor", "somente leitura"), name="bench")
    assert json.loads(wsgi_get(application, "/api/contracts", "limit=5", token)) == {"items": [], "next_cursor": None}
    with pytest.raises(AssertionError, match="401"):
        wsgi_get(application, "/api/contracts", "", "not-a-token")

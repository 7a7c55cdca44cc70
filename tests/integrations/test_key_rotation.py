"""Rotating the credentials key: new key first, re-encrypt, drop the old key."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from agrega.integrations.models import SvaIntegration
from agrega.integrations.services import integration_create

pytestmark = pytest.mark.django_db


def test_rotation_keeps_credentials_readable_with_only_the_new_key(settings, capsys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEY = old
    integration = integration_create(name="EXA rotação", platform="exa", base_url="http://127.0.0.1:9",
                                     prefix="rot", credentials={"client_id": "c", "client_secret": "s3gredo"})
    before = SvaIntegration.objects.get(pk=integration.pk).credentials_encrypted
    settings.CREDENTIALS_KEY = f"{new},{old}"
    call_command("rotate_credentials_key")
    assert "1 integração" in capsys.readouterr().out
    settings.CREDENTIALS_KEY = new
    stored = SvaIntegration.objects.get(pk=integration.pk)
    assert stored.credentials_encrypted != before and "s3gredo" not in stored.credentials_encrypted
    assert stored.credentials == {"client_id": "c", "client_secret": "s3gredo"}


def test_rotation_without_the_old_key_changes_nothing(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEY = old
    integration = integration_create(name="EXA rotação 2", platform="exa", base_url="http://127.0.0.1:9",
                                     prefix="rot2", credentials={"client_id": "c", "client_secret": "x"})
    before = SvaIntegration.objects.get(pk=integration.pk).credentials_encrypted
    settings.CREDENTIALS_KEY = new
    with pytest.raises(SystemExit) as exc:
        call_command("rotate_credentials_key")
    assert "credentials_key_missing" in str(exc.value)
    assert SvaIntegration.objects.get(pk=integration.pk).credentials_encrypted == before

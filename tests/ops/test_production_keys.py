"""Without DEBUG, Agrega refuses development secrets (agrega/core/keys.py): the web,
the worker and the commands stop with a message that says how to make the keys."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from agrega.core import crypto
from agrega.core.keys import DEV_SECRET_KEY, derived_credentials_key, key_problems

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "x" * 50


def _clean_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGREGA_", "DJANGO_"))}
    env.update(PYTHONPATH=str(ROOT), AGREGA_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/a.sqlite3",
               **extra)
    return env


@pytest.mark.parametrize("secret,creds,ids", [
    (DEV_SECRET_KEY, "", {"agrega.E001", "agrega.E002"}),
    ("", "", {"agrega.E001", "agrega.E002"}),
    ("curta", Fernet.generate_key().decode(), {"agrega.E001"}),
    (GOOD_SECRET, "", {"agrega.E002"}),
    (GOOD_SECRET, "não-é-fernet", {"agrega.E002"}),
    (GOOD_SECRET, derived_credentials_key(GOOD_SECRET), {"agrega.E002"}),
    (GOOD_SECRET, Fernet.generate_key().decode(), set()),
    (GOOD_SECRET, Fernet.generate_key().decode() + "," + derived_credentials_key(GOOD_SECRET), set()),
])
def test_key_problems(secret, creds, ids):
    assert {i for i, _ in key_problems(debug=False, secret_key=secret, credentials_key=creds)} == ids
    assert key_problems(debug=True, secret_key=secret, credentials_key=creds) == []


@pytest.mark.parametrize("argv", [["check"], ["worker", "--concurrency", "1"], ["migrate", "--no-input"]])
def test_commands_refuse_to_start_without_keys(tmp_path, argv):
    done = subprocess.run([sys.executable, "-m", "agrega.cli", *argv], env=_clean_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "agrega.E001" in done.stderr and "agrega.E002" in done.stderr
    assert "agrega generate-keys" in done.stderr


def test_web_refuses_to_start_without_keys(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import agrega.wsgi"], env=_clean_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "ImproperlyConfigured" in done.stderr and "agrega.E002" in done.stderr


def test_generated_keys_are_accepted_and_debug_allows_development_keys(tmp_path):
    made = subprocess.run([sys.executable, "-m", "agrega.cli", "generate-keys"], env=_clean_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    keys = dict(line.split("=", 1) for line in made.stdout.split())
    assert set(keys) == {"AGREGA_SECRET_KEY", "AGREGA_CREDENTIALS_KEY"}
    for env in (_clean_env(tmp_path, **keys), _clean_env(tmp_path, AGREGA_DEBUG="1")):
        done = subprocess.run([sys.executable, "-m", "agrega.cli", "check"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        done = subprocess.run([sys.executable, "-c", "import agrega.wsgi"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr


def test_credentials_under_the_derived_key_can_be_rotated_to_a_real_one(settings):
    """An installation that ran on the derived key sets a real one and re-encrypts."""
    settings.CREDENTIALS_KEY = ""
    token = crypto.encrypt_json({"client_secret": "s3gredo"})
    settings.CREDENTIALS_KEY = Fernet.generate_key().decode()
    assert crypto.decrypt_json(crypto.reencrypt(token)) == {"client_secret": "s3gredo"}
    assert Fernet(settings.CREDENTIALS_KEY.encode()).decrypt(crypto.reencrypt(token).encode())

"""The environment of a web worker run as its own process (``import agrega.wsgi``, as
gunicorn does): this tree first on the path, production settings (DEBUG off) and keys that
pass agrega/core/keys.py's checks."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]


def web_worker_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "agrega.settings", "AGREGA_DEBUG": "",
            "AGREGA_SECRET_KEY": "k" * 50, "AGREGA_CREDENTIALS_KEY": Fernet.generate_key().decode(), **extra}

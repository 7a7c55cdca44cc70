"""Encryption of platform credentials at rest.

Fernet (AES-128-CBC + HMAC) from ``cryptography``. The key comes from
``settings.CREDENTIALS_KEY`` (a urlsafe base64 Fernet key, or several separated by
commas: the first encrypts, all decrypt — that is how a key is rotated). Without one
(only allowed with DEBUG on: core/keys.py), a key is derived from SECRET_KEY. The derived
key always decrypts, last, so an installation that used it can rotate to a real key.
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from .keys import DEV_SECRET_KEY, derived_credentials_key


@lru_cache(maxsize=4)
def _fernet(credentials_key: str, secret_key: str) -> MultiFernet:
    keys = [k.strip() for k in credentials_key.split(",") if k.strip()]
    # decrypt-only fallbacks: the key derived from this SECRET_KEY, and from the
    # development one (a demo database made before the demo had keys of its own)
    for derived in (derived_credentials_key(secret_key), derived_credentials_key(DEV_SECRET_KEY)):
        if derived not in keys:
            keys.append(derived)
    return MultiFernet([Fernet(k.encode()) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(settings.CREDENTIALS_KEY, settings.SECRET_KEY)


def encrypt_json(data: dict) -> str:
    return fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as exc:  # wrong key: say so without leaking anything
        raise RuntimeError(
            "Não foi possível decifrar as credenciais: a chave AGREGA_CREDENTIALS_KEY mudou?"
        ) from exc



def reencrypt(token: str) -> str:
    """The same secret under the current first key (key rotation, see docs/operations.md)."""
    return fernet().rotate(token.encode()).decode() if token else token

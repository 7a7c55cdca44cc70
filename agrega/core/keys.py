"""Agrega's own secrets: refuse to run in production on development ones.

With ``DEBUG`` off, the web (agrega/wsgi.py), the worker and every management command
stop (a system check at Error level, ``agrega.E001``/``E002``) unless
``AGREGA_SECRET_KEY`` is set to a key of its own and ``AGREGA_CREDENTIALS_KEY`` holds a
real Fernet key — not the one derived from the secret key, which would make a leaked
secret key reveal the platform credentials too. The message says how to generate both
(``agrega generate-keys``). The demo makes its own keys in ``var/`` (``demo_secrets``)."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

DEV_SECRET_KEY = "agrega-insecure-development-key-change-me"
GENERATE_HINT = (
    "Gere as chaves com `agrega generate-keys` (ou `python -c \"import secrets; "
    "print(secrets.token_urlsafe(50))\"` para AGREGA_SECRET_KEY e `python -c \"from cryptography.fernet "
    "import Fernet; print(Fernet.generate_key().decode())\"` para AGREGA_CREDENTIALS_KEY) e defina-as no "
    "ambiente de todos os processos (web e worker)."
)


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)


def new_credentials_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def derived_credentials_key(secret_key: str) -> str:
    """The Fernet key the demo used to derive from SECRET_KEY (now decrypt-only, so an
    installation that relied on it can rotate to a real key: docs/operations.md)."""
    digest = hashlib.sha256(("agrega-credentials:" + secret_key).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def key_problems(*, debug: bool, secret_key: str, credentials_key: str) -> list[tuple[str, str]]:
    """(check id, message) for each development secret that production would run on."""
    if debug:
        return []
    problems = []
    if not secret_key or secret_key == DEV_SECRET_KEY or secret_key.startswith("django-insecure") \
            or len(secret_key) < 32:
        problems.append(("agrega.E001", "AGREGA_SECRET_KEY não está definida (ou é a chave de desenvolvimento, "
                                        "ou tem menos de 32 caracteres): o Agrega não inicia assim sem "
                                        "AGREGA_DEBUG=1."))
    keys = [k.strip() for k in (credentials_key or "").split(",") if k.strip()]
    if not keys:
        problems.append(("agrega.E002", "AGREGA_CREDENTIALS_KEY não está definida: as credenciais das "
                                        "plataformas seriam cifradas com uma chave derivada de "
                                        "AGREGA_SECRET_KEY. O Agrega não inicia assim sem AGREGA_DEBUG=1."))
    else:
        from cryptography.fernet import Fernet

        try:
            Fernet(keys[0].encode())
        except ValueError:
            problems.append(("agrega.E002", "AGREGA_CREDENTIALS_KEY não é uma chave Fernet válida (32 bytes em "
                                            "base64 urlsafe)."))
        else:
            if keys[0] == derived_credentials_key(secret_key):
                problems.append(("agrega.E002", "AGREGA_CREDENTIALS_KEY é a chave derivada de AGREGA_SECRET_KEY: "
                                                "use uma chave própria."))
    return problems


def check_production_keys(app_configs=None, **kwargs):
    """Django system check (registered in core.apps): Error level, so every command and
    the web process refuse to start."""
    from django.conf import settings
    from django.core.checks import Error

    return [Error(message, hint=GENERATE_HINT, id=check_id)
            for check_id, message in key_problems(debug=settings.DEBUG, secret_key=settings.SECRET_KEY,
                                                  credentials_key=settings.CREDENTIALS_KEY)]


def demo_secrets(var_dir: Path) -> dict[str, str]:
    """The demo's own keys (and payment webhook secret), made once into
    ``var/demo-secrets.env`` (mode 600) and reused on the next start."""
    path = Path(var_dir) / "demo-secrets.env"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and value.strip():
                values[name.strip()] = value.strip()
    wanted = {"AGREGA_SECRET_KEY": new_secret_key, "AGREGA_CREDENTIALS_KEY": new_credentials_key,
              "AGREGA_PAYMENT_WEBHOOK_SECRET": lambda: secrets.token_urlsafe(32)}
    missing = {name: make() for name, make in wanted.items() if name not in values}
    if missing or not path.exists():
        values.update(missing)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("# chaves da demo (geradas por `agrega demo`; não use em produção)\n")
            out.writelines(f"{name}={value}\n" for name, value in values.items())
        os.replace(tmp, path)
    os.chmod(path, 0o600)
    return values

"""The webhook sandbox's test kit (see exa/testing.py for the shape every kit has):
how tests start ``webhook_sandbox`` and open a receiving account on it."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

from webhook_sandbox.testing import SandboxAdmin, SandboxProcess

# what ``agrega webhook-sandbox …`` runs (agrega/cli.py: ``<platform>-sandbox`` for any connector with a kit)
SERVER_MAIN = "webhook_sandbox.server:main"

PACKAGES = [("WH-BASICO", "Básico"), ("WH-FAMILIA", "Família"), ("WH-BACKUP", "Backup")]
CATALOGUE = "; ".join(f"{code}={name}" for code, name in PACKAGES)


@dataclass
class Account:
    """A receiving account; ``prefix`` is its name (it scopes the fault switches)."""

    prefix: str
    credentials: dict[str, str]
    admin: SandboxAdmin
    url: str
    integration: object = None
    extra: dict = field(default_factory=dict)

    def integration_fields(self) -> dict:
        return {"base_url": self.url, "prefix": "", "credentials": dict(self.credentials)}

    def users(self) -> list[dict]:
        return self.admin.users(self.prefix)

    def user(self, external_id: str) -> dict | None:
        return next((u for u in self.users() if u["external_id"] == external_id), None)


class SandboxKit:
    platform = "webhook"
    package_codes = tuple(code for code, _ in PACKAGES)
    FAULTS = {
        "throttle": lambda o: {"throttle_rate": 1.0, "retry_after_seconds": int(o.get("retry_after", 1))},
        "server_error": lambda o: {"error_rate": 1.0},
        "down": lambda o: {"down": True},
        "timeout": lambda o: {"timeout_rate": 1.0, "hang_seconds": 2.0},
        "lost_response": lambda o: {"lost_response_rate": 1.0, "hang_seconds": 2.0},
    }

    def __init__(self) -> None:
        self.process = SandboxProcess()

    def start(self) -> "SandboxKit":
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()

    @property
    def url(self) -> str:
        return self.process.url

    def admin(self) -> SandboxAdmin:
        return SandboxAdmin(self.url)

    def new_account(self, admin: SandboxAdmin) -> Account:
        name = "wh" + uuid.uuid4().hex[:10]
        secret = "whsec_" + secrets.token_urlsafe(24)
        admin.create_account(name, [secret], packages=[code for code, _ in PACKAGES])
        credentials = {"signing_secret": secret, "previous_signing_secret": "", "packages": CATALOGUE}
        return Account(name, credentials, admin, admin.endpoint(name))

    def inject_fault(self, admin: SandboxAdmin, account: Account, kind: str, **options) -> None:
        admin.set_faults(prefix=account.prefix, **self.FAULTS[kind](options))

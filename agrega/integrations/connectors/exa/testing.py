"""The EXA sandbox's test kit: how the platform-neutral fixtures (tests/fixtures.py) and
the fault harness start EXA's sandbox and open an account on it, and how ``agrega demo``
(``DemoKit``) runs it with the demo's account. Only tests and the demo import it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from exa_sandbox.testing import SandboxAdmin, SandboxProcess

# what ``agrega exa-sandbox …`` runs (agrega/cli.py: ``<platform>-sandbox`` for any connector with a kit)
SERVER_MAIN = "exa_sandbox.server:main"

PACKAGES = [
    ("EXA-SEG-BASICO", "EXA Segurança Básico"),
    ("EXA-SEG-FAMILIA", "EXA Família"),
    ("EXA-BACKUP-100", "EXA Backup 100 GB"),
]


@dataclass
class Account:
    """A partner on the sandbox. ``prefix`` scopes the fault switches to it."""

    prefix: str
    credentials: dict[str, str]
    admin: SandboxAdmin
    url: str
    integration: object = None
    extra: dict = field(default_factory=dict)

    @property
    def client_id(self) -> str:
        return self.credentials["client_id"]

    @property
    def client_secret(self) -> str:
        return self.credentials["client_secret"]

    def integration_fields(self) -> dict:
        """``base_url``, ``prefix`` and ``credentials`` for ``integration_create``."""
        return {"base_url": self.url, "prefix": self.prefix, "credentials": dict(self.credentials)}

    def users(self) -> list[dict]:
        return self.admin.users(self.prefix)

    def user(self, external_id: str) -> dict | None:
        return next((u for u in self.users() if u["external_id"] == external_id), None)


class SandboxKit:
    platform = "exa"
    package_codes = tuple(code for code, _ in PACKAGES)
    # the fault kinds of the shared contract suite → the sandbox's switches
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
        prefix = "isp" + uuid.uuid4().hex[:10]
        credentials = {"client_id": "cid-" + prefix, "client_secret": "secret-" + uuid.uuid4().hex}
        admin.create_partner(prefix, credentials["client_id"], credentials["client_secret"], packages=PACKAGES)
        return Account(prefix, credentials, admin, self.url)

    def inject_fault(self, admin: SandboxAdmin, account: Account, kind: str, **options) -> None:
        admin.set_faults(prefix=account.prefix, **self.FAULTS[kind](options))


class DemoKit:
    """What ``agrega demo`` and ``seed_demo`` need from the platform's sandbox, so that
    neither names the platform: the command that runs it, the demo's account on it and
    the users it holds (agrega/cli.py, core/management/commands/seed_demo.py)."""

    module = "exa_sandbox"  # ``python -m exa_sandbox --host … --port … --data …``
    health_path = "/_sandbox/faults"
    prefix = "provedor-demo"
    credentials = {"client_id": "agrega-demo", "client_secret": "demo-secret-troque-me"}
    packages = [
        {"code": "EXA-SEG-BASICO", "name": "EXA Segurança Básico", "description": "Proteção de apps e dados"},
        {"code": "EXA-SEG-FAMILIA", "name": "EXA Família", "description": "Gestão digital familiar"},
        {"code": "EXA-BACKUP-100", "name": "EXA Backup 100 GB", "description": "Backup em nuvem"},
    ]

    @classmethod
    def server_args(cls, host: str, port: int, data_file: str) -> list[str]:
        return [cls.module, "--host", host, "--port", str(port), "--data", data_file]

    @classmethod
    def open_account(cls, url: str, *, reset: bool) -> dict:
        """Open (again) the demo's account on the sandbox at ``url``; with ``reset``, empty
        the sandbox first. Returns ``base_url``, ``prefix`` and ``credentials`` for
        ``integration_create``."""
        import httpx

        if reset:
            httpx.post(f"{url}/_sandbox/reset", timeout=10).raise_for_status()
        httpx.post(f"{url}/_sandbox/partners", json={
            "prefix": cls.prefix, **cls.credentials, "packages": cls.packages,
        }, timeout=10).raise_for_status()
        return {"base_url": url, "prefix": cls.prefix, "credentials": dict(cls.credentials)}

    @classmethod
    def remote_statuses(cls, url: str) -> dict[str, str]:
        """external id → status of the demo account's users on the sandbox."""
        import httpx

        users = httpx.get(f"{url}/_sandbox/partners/{cls.prefix}/users", timeout=10).json()["users"]
        return {u["external_id"]: u["status"] for u in users}

"""The receiving side's state: accounts (an endpoint, its signing secrets, its packages)
and the users the events describe, applied as docs/connectors/webhook.md says."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from exa_sandbox.store import ApiError

TOLERANCE_SECONDS = 300  # a signature older (or newer) than this is refused
USER_FIELDS = ("name", "email", "phone", "document", "package_code", "status")
EVENT_TYPES = ("ping", "sva_user.created", "sva_user.updated", "sva_user.blocked",
               "sva_user.unblocked", "sva_user.deleted")
# the operation names the fault switches (refuse_emails) and the stats use
OPERATIONS = {"ping": "ping", "sva_user.created": "create_user", "sva_user.updated": "update_user",
              "sva_user.blocked": "block_user", "sva_user.unblocked": "unblock_user",
              "sva_user.deleted": "delete_user"}


def parse_signature(header: str) -> tuple[int | None, list[str]]:
    """``t=1700000000,v1=abc…,v1=def…`` → (timestamp, [signatures])."""
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    return timestamp, signatures


def verify(secrets: list[str], header: str, body: bytes, *, now: float | None = None) -> bool:
    """The receiver's check, as the contract documents it: HMAC-SHA256 of
    ``timestamp + "." + body`` with any of the account's current secrets equals any
    ``v1`` of the header, and the timestamp is within the tolerance."""
    timestamp, signatures = parse_signature(header or "")
    if timestamp is None or not signatures:
        return False
    if abs((now or time.time()) - timestamp) > TOLERANCE_SECONDS:
        return False
    signed = str(timestamp).encode() + b"." + body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, s) for s in signatures):
            return True
    return False


@dataclass
class Account:
    name: str
    secrets: list[str]
    packages: list[str] = field(default_factory=list)  # [] = any package code
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)  # event ids already applied

    def ordered_users(self) -> list[dict[str, Any]]:
        return [dict(u) for u in self.users.values()]


class Store:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.lock = threading.Lock()
        self.duplicates: Counter[str] = Counter()  # refusals: duplicate_email
        self.replays = 0  # events received again with an id already applied
        self.events: Counter[str] = Counter()

    def upsert_account(self, name: Any, secrets: Any, packages: Any = None) -> Account:
        if not isinstance(name, str) or not name or not isinstance(secrets, list) or not secrets \
                or not all(isinstance(s, str) and s for s in secrets):
            raise ApiError(422, "invalid_fields", "Informe account e secrets (lista não vazia).")
        codes = [str(p) for p in packages] if isinstance(packages, list) else []
        with self.lock:
            account = self.accounts.get(name)
            if account is None:
                account = self.accounts[name] = Account(name, list(secrets), codes)
            else:
                account.secrets = list(secrets)
                if packages is not None:
                    account.packages = codes
            return account

    def account(self, name: str) -> Account:
        account = self.accounts.get(name)
        if account is None:
            raise ApiError(404, "not_found", "Conta desconhecida.")
        return account

    def reset(self) -> None:
        with self.lock:
            self.accounts.clear()
            self.duplicates.clear()
            self.events.clear()
            self.replays = 0

    # -- applying one verified event ------------------------------------------------

    def apply(self, account: Account, event: Any) -> tuple[int, Any]:
        if not isinstance(event, dict) or event.get("type") not in EVENT_TYPES \
                or not isinstance(event.get("id"), str) or not isinstance(event.get("data"), dict):
            raise ApiError(400, "invalid_event", "Evento inválido.")
        kind, data, event_id = event["type"], event["data"], event["id"]
        self.events[kind] += 1
        if kind == "ping":
            return 200, {"received": event_id}
        external_id = data.get("external_id")
        if not isinstance(external_id, str) or not external_id:
            raise ApiError(422, "invalid_fields", "Dados inválidos.", fields={"external_id": "Obrigatório."})
        with self.lock:
            if event_id in account.seen:
                self.replays += 1  # the state is applied again all the same: it is idempotent
            user = account.users.get(external_id)
            if kind == "sva_user.deleted":
                account.users.pop(external_id, None)
                account.seen.add(event_id)
                return 200, {"received": event_id}
            if kind in ("sva_user.created", "sva_user.updated"):
                values = self._user_values(account, data)
                if kind == "sva_user.updated" and user is None:
                    raise ApiError(404, "user_not_found", "Usuário não encontrado.")
                holder = next((u for u in account.users.values()
                               if u["email"].lower() == values["email"].lower()
                               and u["external_id"] != external_id), None)
                if holder is not None:
                    self.duplicates["duplicate_email"] += 1
                    raise ApiError(409, "duplicate_email", "E-mail já cadastrado para outro usuário.",
                                   fields={"email": "Já usado por outro usuário."})
                existed = user is not None
                user = account.users.setdefault(external_id, {"external_id": external_id})
                user.update(values)
            else:  # blocked / unblocked
                existed = True
                if user is None:
                    raise ApiError(404, "user_not_found", "Usuário não encontrado.")
                user["status"] = "blocked" if kind == "sva_user.blocked" else "active"
            user["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            account.seen.add(event_id)
            # 201 only when the user is new: a created event for a user already held (a
            # retry after a lost answer) is applied as an update
            status = 201 if kind == "sva_user.created" and not existed else 200
            return status, {"received": event_id, "status": user["status"]}

    @staticmethod
    def _user_values(account: Account, data: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        values = {}
        for name in USER_FIELDS:
            value = data.get(name)
            if not isinstance(value, str) or not value.strip():
                errors[name] = "Obrigatório."
            values[name] = value if isinstance(value, str) else ""
        email = values["email"]
        if "email" not in errors and ("@" not in email or email.startswith("@") or email.endswith("@")):
            errors["email"] = "E-mail inválido."
        if values["status"] not in ("active", "blocked"):
            errors["status"] = "Use active ou blocked."
        if errors:
            raise ApiError(422, "invalid_fields", "Dados inválidos.", fields=errors)
        if account.packages and values["package_code"] not in account.packages:
            raise ApiError(422, "package_not_found", "Pacote não existe nesta conta.",
                           fields={"package_code": "Pacote desconhecido."})
        return values

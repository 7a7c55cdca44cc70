"""State of the EXA sandbox: partners, their packages and users, and access tokens.

Everything here is synchronous and runs on the event loop thread, so no locks are
needed. User records are plain dicts that are *replaced*, never mutated, when they
change: a snapshot for the persistence file can therefore hold references to them
and serialise them in another thread without seeing half an update.

Validation is deliberately cheap (precompiled regexes): the sandbox must never be the
bottleneck of a benchmark.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
from bisect import bisect_right
from collections import Counter
from typing import Any

PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
PHONE_RE = re.compile(r"^\+55[1-9][0-9][0-9]{8,9}$")  # +55, DDD, 8 or 9 digits
# CPF (11 digits) or CNPJ (14: 12 digits or upper-case letters, the alphanumeric CNPJ of
# July 2026, then 2 check digits)
DOCUMENT_RE = re.compile(r"^(?:[0-9]{11}|[0-9A-Z]{12}[0-9]{2})$")
PACKAGE_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

USER_FIELDS = ("name", "email", "phone", "document", "package_code")
STATUSES = ("active", "blocked")
MAX_NAME = 200
MAX_EMAIL = 254

DEFAULT_PACKAGES = (
    {
        "code": "EXA-SEG-BASICO",
        "name": "EXA Segurança Básico",
        "description": "Proteção de aplicativos e navegação segura para 1 dispositivo.",
    },
    {
        "code": "EXA-SEG-FAMILIA",
        "name": "EXA Família",
        "description": "Segurança para até 5 dispositivos e localização da família.",
    },
    {
        "code": "EXA-BACKUP-100",
        "name": "EXA Backup 100 GB",
        "description": "Backup em nuvem de fotos, vídeos e arquivos (100 GB).",
    },
)

DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


class ApiError(Exception):
    """An answer other than success; ``app`` turns it into the JSON error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def _invalid(fields: dict[str, str]) -> ApiError:
    return ApiError(422, "invalid_fields", "Campos inválidos.", fields=fields)


class Partner:
    """One ISP account on the platform ("Seu prefixo")."""

    __slots__ = (
        "prefix", "client_id", "client_secret", "packages",
        "users", "emails", "seq_of", "by_seq", "order", "next_seq",
    )

    def __init__(self, prefix: str, client_id: str, client_secret: str, packages: list[dict]):
        self.prefix = prefix
        self.client_id = client_id
        self.client_secret = client_secret
        self.packages: dict[str, dict[str, str]] = {p["code"]: p for p in packages}
        self.users: dict[str, dict[str, Any]] = {}  # external_id -> record
        self.emails: dict[str, str] = {}  # lower-cased e-mail -> external_id
        # Stable listing order: a creation sequence number per user. ``order`` is
        # append-only and sorted, so a cursor (the last sequence seen) is found by
        # bisection; deleted users leave holes that are skipped and compacted later.
        self.seq_of: dict[str, int] = {}
        self.by_seq: dict[int, str] = {}
        self.order: list[int] = []
        self.next_seq = 1

    def add(self, user: dict[str, Any]) -> None:
        ext = user["external_id"]
        seq = self.next_seq
        self.next_seq += 1
        self.users[ext] = user
        self.emails[user["email"].lower()] = ext
        self.seq_of[ext] = seq
        self.by_seq[seq] = ext
        self.order.append(seq)

    def remove(self, external_id: str) -> None:
        user = self.users.pop(external_id)
        self.emails.pop(user["email"].lower(), None)
        del self.by_seq[self.seq_of.pop(external_id)]
        if len(self.order) > 64 and len(self.order) > 2 * len(self.by_seq):
            self.order = [s for s in self.order if s in self.by_seq]

    def ordered_users(self) -> list[dict[str, Any]]:
        users, by_seq = self.users, self.by_seq
        return [users[by_seq[s]] for s in self.order if s in by_seq]


class Store:
    def __init__(self, *, token_ttl: int = 3600):
        self.token_ttl = token_ttl
        self.partners: dict[str, Partner] = {}
        self.by_client_id: dict[str, str] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (prefix, expires at)
        self.duplicates: Counter[str] = Counter()
        self.version = 0  # bumped on every change worth persisting

    # -- partners (admin) ------------------------------------------------------------

    def upsert_partner(
        self,
        prefix: Any,
        client_id: Any,
        client_secret: Any,
        packages: Any = None,
    ) -> Partner:
        fields: dict[str, str] = {}
        if not isinstance(prefix, str) or not PREFIX_RE.match(prefix):
            fields["prefix"] = "Prefixo inválido (letras, dígitos, '-', '_' ou '.'; até 64)."
        if not isinstance(client_id, str) or not client_id:
            fields["client_id"] = "Obrigatório."
        if not isinstance(client_secret, str) or not client_secret:
            fields["client_secret"] = "Obrigatório."
        parsed = None if packages is None else self._parse_packages(packages, fields)
        if fields:
            raise _invalid(fields)
        owner = self.by_client_id.get(client_id)
        if owner is not None and owner != prefix:
            raise ApiError(
                409, "duplicate_client_id", f"Client ID já usado pelo parceiro {owner}."
            )
        partner = self.partners.get(prefix)
        if partner is None:
            pkgs = parsed if parsed is not None else [dict(p) for p in DEFAULT_PACKAGES]
            partner = Partner(prefix, client_id, client_secret, pkgs)
            self.partners[prefix] = partner
        else:
            if partner.client_id != client_id:
                self.by_client_id.pop(partner.client_id, None)
            partner.client_id = client_id
            partner.client_secret = client_secret
            if parsed is not None:
                partner.packages = {p["code"]: p for p in parsed}
        self.by_client_id[client_id] = prefix
        self.version += 1
        return partner

    @staticmethod
    def _parse_packages(packages: Any, fields: dict[str, str]) -> list[dict[str, str]]:
        if not isinstance(packages, list):
            fields["packages"] = "Deve ser uma lista."
            return []
        parsed = []
        for i, p in enumerate(packages):
            if not isinstance(p, dict):
                fields[f"packages[{i}]"] = "Deve ser um objeto."
                continue
            code, name = p.get("code"), p.get("name", p.get("code"))
            description = p.get("description", "")
            if not isinstance(code, str) or not PACKAGE_CODE_RE.match(code):
                fields[f"packages[{i}].code"] = "Código inválido."
            elif not isinstance(name, str) or not isinstance(description, str):
                fields[f"packages[{i}]"] = "Nome e descrição devem ser texto."
            else:
                parsed.append({"code": code, "name": name, "description": description})
        return parsed

    def partner(self, prefix: str) -> Partner:
        partner = self.partners.get(prefix)
        if partner is None:
            raise ApiError(404, "partner_not_found", "Parceiro não encontrado.")
        return partner

    # -- tokens ----------------------------------------------------------------------

    def issue_token(self, client_id: Any, client_secret: Any) -> dict[str, Any]:
        prefix = self.by_client_id.get(client_id) if isinstance(client_id, str) else None
        partner = self.partners.get(prefix) if prefix else None
        if (
            partner is None
            or not isinstance(client_secret, str)
            or not secrets.compare_digest(partner.client_secret, client_secret)
        ):
            raise ApiError(401, "invalid_credentials", "Credenciais inválidas.")
        now = time.monotonic()
        if len(self.tokens) > 10_000:
            self.tokens = {t: v for t, v in self.tokens.items() if v[1] > now}
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (partner.prefix, now + self.token_ttl)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "prefix": partner.prefix,
        }

    def authorize(self, token: str | None, prefix: str) -> Partner:
        entry = self.tokens.get(token) if token else None
        if entry is None or entry[1] <= time.monotonic():
            if entry is not None:
                del self.tokens[token]
            raise ApiError(
                401, "invalid_token", "Token de acesso ausente, inválido ou expirado.",
                headers=[(b"www-authenticate", b'Bearer error="invalid_token"')],
            )
        if entry[0] != prefix:
            raise ApiError(403, "forbidden", "Este token não dá acesso a este prefixo.")
        return self.partner(prefix)

    def expire_tokens(self, prefix: str | None = None) -> int:
        if prefix is None:
            count = len(self.tokens)
            self.tokens.clear()
            return count
        doomed = [t for t, (p, _) in self.tokens.items() if p == prefix]
        for t in doomed:
            del self.tokens[t]
        return len(doomed)

    # -- users -----------------------------------------------------------------------

    def _validate(self, partner: Partner, data: dict[str, Any], *, partial: bool) -> None:
        fields: dict[str, str] = {}
        allowed = USER_FIELDS if partial else ("external_id", *USER_FIELDS, "status")
        for key in data:
            if key not in allowed:
                fields[key] = "Campo não aceito nesta operação."
        if not partial:
            ext = data.get("external_id")
            if not isinstance(ext, str) or not EXTERNAL_ID_RE.match(ext):
                fields["external_id"] = (
                    "Obrigatório: até 64 caracteres (letras, dígitos, '.', '_', ':', '-')."
                )
            status = data.get("status", "active")
            if status not in STATUSES:
                fields["status"] = "Deve ser 'active' ou 'blocked'."
            for key in USER_FIELDS:
                if key not in data:
                    fields[key] = "Obrigatório."
        if "name" in data:
            name = data["name"]
            if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
                fields["name"] = f"Nome obrigatório, até {MAX_NAME} caracteres."
            elif not all(c.isprintable() and ord(c) < 256 for c in name):
                fields["name"] = "Nome só com caracteres Latin-1 visíveis (sem emoji nem controles)."
        if "email" in data:
            email = data["email"]
            if not isinstance(email, str) or len(email) > MAX_EMAIL or not EMAIL_RE.match(email):
                fields["email"] = "E-mail inválido."
        if "phone" in data:
            phone = data["phone"]
            if not isinstance(phone, str) or not PHONE_RE.match(phone):
                fields["phone"] = "Telefone inválido: use E.164 brasileiro, ex. +5511987654321."
        if "document" in data:
            document = data["document"]
            if not isinstance(document, str) or not DOCUMENT_RE.match(document):
                fields["document"] = (
                    "Documento inválido: CPF (11 dígitos) ou CNPJ (14 caracteres: 12 dígitos ou "
                    "letras maiúsculas e 2 dígitos)."
                )
        if "package_code" in data and not isinstance(data["package_code"], str):
            fields["package_code"] = "Código de pacote inválido."
        if fields:
            raise _invalid(fields)
        code = data.get("package_code")
        if code is not None and code not in partner.packages:
            raise ApiError(
                422, "package_not_found", f"Pacote {code} não existe para este parceiro.",
                fields={"package_code": "Pacote não encontrado."},
            )

    def _check_email_free(self, partner: Partner, email: str, external_id: str) -> None:
        owner = partner.emails.get(email.lower())
        if owner is not None and owner != external_id:
            self.duplicates["duplicate_email"] += 1
            raise ApiError(
                409, "duplicate_email", "E-mail já cadastrado para outro usuário.",
                fields={"email": "Já usado por outro usuário."},
            )

    def create_user(self, partner: Partner, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "O corpo deve ser um objeto JSON.")
        self._validate(partner, data, partial=False)
        ext = data["external_id"]
        if ext in partner.users:
            self.duplicates["duplicate_external_id"] += 1
            raise ApiError(
                409, "duplicate_external_id", "Já existe um usuário com este external_id.",
                fields={"external_id": "Já existe."},
            )
        self._check_email_free(partner, data["email"], ext)
        now = _now()
        user = {
            "id": "usr_" + secrets.token_hex(8),
            "external_id": ext,
            "name": data["name"],
            "email": data["email"],
            "phone": data["phone"],
            "document": data["document"],
            "package_code": data["package_code"],
            "status": data.get("status", "active"),
            "created_at": now,
            "updated_at": now,
        }
        partner.add(user)
        self.version += 1
        return user

    def get_user(self, partner: Partner, external_id: str) -> dict[str, Any]:
        user = partner.users.get(external_id)
        if user is None:
            raise ApiError(404, "user_not_found", "Usuário não encontrado.")
        return user

    def list_users(
        self, partner: Partner, cursor: str | None, limit: str | None
    ) -> dict[str, Any]:
        fields = {}
        after = 0
        if cursor:
            try:
                after = int(cursor, 16)
            except ValueError:
                fields["cursor"] = "Cursor inválido."
        size = DEFAULT_LIST_LIMIT
        if limit:
            try:
                size = int(limit)
            except ValueError:
                size = 0
            if not 1 <= size <= MAX_LIST_LIMIT:
                fields["limit"] = f"Deve estar entre 1 e {MAX_LIST_LIMIT}."
        if fields:
            raise _invalid(fields)
        order, by_seq, users = partner.order, partner.by_seq, partner.users
        page: list[dict[str, Any]] = []
        last = after
        i = bisect_right(order, after)
        while i < len(order) and len(page) < size:
            seq = order[i]
            ext = by_seq.get(seq)
            if ext is not None:
                page.append(users[ext])
                last = seq
            i += 1
        while i < len(order) and order[i] not in by_seq:  # skip holes left by deletions
            i += 1
        more = i < len(order)
        return {"users": page, "next_cursor": format(last, "x") if more else None}

    def update_user(self, partner: Partner, external_id: str, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "O corpo deve ser um objeto JSON.")
        user = self.get_user(partner, external_id)
        self._validate(partner, data, partial=True)
        if "email" in data:
            self._check_email_free(partner, data["email"], external_id)
        changes = {k: v for k, v in data.items() if user[k] != v}
        if not changes:
            return user
        new = {**user, **changes, "updated_at": _now()}
        partner.users[external_id] = new
        if "email" in changes:
            partner.emails.pop(user["email"].lower(), None)
            partner.emails[new["email"].lower()] = external_id
        self.version += 1
        return new

    def set_status(self, partner: Partner, external_id: str, status: str) -> dict[str, Any]:
        user = self.get_user(partner, external_id)
        if user["status"] == status:
            return user
        new = {**user, "status": status, "updated_at": _now()}
        partner.users[external_id] = new
        self.version += 1
        return new

    def delete_user(self, partner: Partner, external_id: str) -> None:
        self.get_user(partner, external_id)
        partner.remove(external_id)
        self.version += 1

    # -- whole state -----------------------------------------------------------------

    def reset(self) -> None:
        self.partners.clear()
        self.by_client_id.clear()
        self.tokens.clear()
        self.duplicates.clear()
        self.version += 1

    def user_counts(self) -> dict[str, dict[str, int]]:
        counts = {}
        for prefix, partner in self.partners.items():
            blocked = sum(1 for u in partner.users.values() if u["status"] == "blocked")
            total = len(partner.users)
            counts[prefix] = {"total": total, "active": total - blocked, "blocked": blocked}
        return counts

    def snapshot(self) -> dict[str, Any]:
        """A consistent picture of the state, cheap to take on the event loop.

        It holds references to the (never mutated) user records, so it can be
        serialised later in another thread.
        """
        return {
            "format": "exa-sandbox/1",
            "partners": [
                {
                    "prefix": p.prefix,
                    "client_id": p.client_id,
                    "client_secret": p.client_secret,
                    "packages": list(p.packages.values()),
                    "users": p.ordered_users(),
                }
                for p in self.partners.values()
            ],
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.reset()
        for item in data.get("partners", []):
            partner = self.upsert_partner(
                item["prefix"], item["client_id"], item["client_secret"], item["packages"]
            )
            for user in item.get("users", []):
                partner.add(dict(user))
        self.version += 1


def save_snapshot(snapshot: dict[str, Any], path: str) -> None:
    """Write atomically: a temporary file in the same directory, then a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".exa-sandbox-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(snapshot, fh, ensure_ascii=False, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def load_file(store: Store, path: str) -> bool:
    """Load ``path`` into ``store``; False when the file does not exist yet."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return False
    store.restore(data)
    return True

"""One error shape for every entry point.

Services raise ``ApplicationError`` with a stable ``code`` (for programs), a Portuguese
``message`` (for people) and, when fields are at fault, ``fields``: a mapping of field
name to a list of ``FieldError`` (each with its own code and message). The API turns it
into ``{"error": {"code", "message", "fields"}}``; forms show the messages next to the
fields; the CLI prints them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class ApplicationError(Exception):
    """A request that the rules refuse. Nothing was changed when it is raised."""

    status_code = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        fields: dict[str, list[FieldError]] | None = None,
        status_code: int | None = None,
        extra: dict | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code

    def as_dict(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = {
                name: [e.as_dict() for e in errors] for name, errors in self.fields.items()
            }
        if self.extra:
            body.update(self.extra)
        return body


def summary_code(field_codes: set[str], default: str) -> str:
    """The top-level code of a request refused field by field. An amount is the input a
    program most often gets wrong (a float, an exponent, three decimals): when it is the
    only problem the top-level code says so (core/money.py); so does a query parameter the
    operation does not declare (core/api.py); otherwise ``default``."""
    if len(field_codes) == 1 and field_codes <= SUMMARY_CODES:
        return next(iter(field_codes))
    return default


SUMMARY_CODES = frozenset({"amount_invalid", "unknown_parameter"})


class ValidationFailed(ApplicationError):
    """One or more fields are invalid; ``fields`` names each."""

    status_code = 422

    def __init__(self, fields: dict[str, list[FieldError]], message: str | None = None):
        names = ", ".join(sorted(fields))
        super().__init__(
            summary_code({error.code for errors in fields.values() for error in errors}, "validation_failed"),
            message or f"Dados inválidos nos campos: {names}.",
            fields=fields,
        )


class NotFound(ApplicationError):
    status_code = 404

    def __init__(self, what: str, code: str = "not_found", *, feminine: bool | None = None):
        if feminine is None:
            feminine = _is_feminine(what)
        super().__init__(code, f"{what} não {'encontrada' if feminine else 'encontrado'}.")


def _is_feminine(what: str) -> bool:
    """The grammatical gender of the thing not found, from its first word ("Cobrança PIX",
    "Integração SVA", "NFCom do título" are feminine; "Título", "Cliente" masculine)."""
    head = what.split()[0].lower() if what.strip() else ""
    return head == "nfcom" or head.endswith(("a", "ção", "gem", "dade"))


class Conflict(ApplicationError):
    status_code = 409


class InvalidTransition(ApplicationError):
    status_code = 409


class FieldErrors:
    """Collects field errors so a service can report all of them at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[FieldError]] = {}

    def add(self, field: str, code: str, message: str) -> None:
        self.errors.setdefault(field, []).append(FieldError(code, message))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, message: str | None = None) -> None:
        if self.errors:
            raise ValidationFailed(self.errors, message)

"""What every API router shares: token auth, the error shape and keyset pagination."""

from __future__ import annotations

import copy
import re
import time
from datetime import datetime, timedelta
from functools import cache
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DataError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
import orjson
from ninja import NinjaAPI, Schema
from ninja.parser import Parser
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf
from pydantic import BeforeValidator, ConfigDict
from pydantic import Field as PydanticField
from pydantic import field_validator

from .errors import ApplicationError, FieldError, ValidationFailed, summary_code
from .models import ApiToken, hash_token
from .roles import _ORDER as ROLE_ORDER
from .roles import Capability, has_capability, user_role
from .text import find_forbidden

T = TypeVar("T")
MAX_LIMIT = 500


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a write needs, per API resource (the first path segment after /api/). Reads need
# VIEW. A resource missing here gets the strictest capability.
WRITE_CAPABILITY: dict[str, str] = {
    "customers": Capability.OPERATE,
    "contracts": Capability.OPERATE,
    "sva-users": Capability.OPERATE,
    "integrations": Capability.CONFIGURE,
    "products": Capability.CONFIGURE,
    "tokens": Capability.VIEW,  # each user manages their own tokens
    "imports": Capability.OPERATE,
    "campaigns": Capability.OPERATE,
    "invoices": Capability.OPERATE,
    "payments": Capability.OPERATE,  # the webhook is signed, not token-authenticated
    "tax-rates": Capability.CONFIGURE,
    "dunning": Capability.CONFIGURE,  # réguas de cobrança
    "dunning-sweeps": Capability.OPERATE,  # apply the régua now
    "billing": Capability.OPERATE,
    "plans": Capability.CONFIGURE,  # planos de venda
    "consents": Capability.OPERATE,
    "users": Capability.CONFIGURE,  # user administration
    "nfcom": Capability.OPERATE,  # emit, correct, cancel NFCom (agrega/fiscal)
    "fiscal": Capability.CONFIGURE,  # emitter, A1 certificate, products' fiscal data
}
# Resources that even reading needs more than VIEW for.
READ_CAPABILITY: dict[str, str] = {
    "fiscal": Capability.CONFIGURE,  # the emitter's configuration: administrators only
    "users": Capability.CONFIGURE,  # who has access, their roles and tokens: administrators only
    "pix-accounts": Capability.CONFIGURE,  # PSP accounts (credentials, certificate): administrators only
}


def required_capability(request) -> str:
    resource = request.path_info.split("/api/", 1)[-1].split("/", 1)[0]
    if request.method in SAFE_METHODS:
        return READ_CAPABILITY.get(resource, Capability.VIEW)
    return WRITE_CAPABILITY.get(resource, Capability.CONFIGURE)


def authorize(request, user):
    """Refuse (403) an authenticated user whose role lacks what the request needs."""
    needed = required_capability(request)
    if not has_capability(user, needed):
        role = user_role(user)
        raise ApplicationError(
            "forbidden",
            f"Seu papel ({role.label if role else 'nenhum'}) não permite: {Capability(needed).label}.",
            status_code=403,
        )
    return user


def not_authenticated() -> ApplicationError:
    return ApplicationError("not_authenticated",
                            "Autenticação necessária: envie 'Authorization: Bearer <token>'.",
                            status_code=401)


class TokenAuth(HttpBearer):
    """``Authorization: Bearer agr_…``; only the token's hash is stored.

    A request that sends an ``Authorization`` header is judged by it alone: a missing,
    malformed, unknown, revoked or deactivated user's token is 401 at once, on every
    method. Left to ninja, it fell through to the session check, whose CSRF check answered
    a token client's POST with 403 "CSRF check Failed"."""

    openapi_scheme = "bearer"

    def __call__(self, request):
        header = request.headers.get(self.header)
        if header is None:
            return None  # no token: the session may authenticate
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != self.openapi_scheme or not token or " " in token:
            raise not_authenticated()
        user = self.authenticate(request, token)
        if user is None:
            raise not_authenticated()
        return user

    def authenticate(self, request, token: str):
        user = self._user_for(token)
        if user is None:
            return None
        request.user = user
        return authorize(request, user)

    def _user_for(self, token: str):
        """The token's user with their role, read in one query: the role is asked on every
        request (``authorize``), and reading the groups was a second query on every API
        call (bench/README.md, "api_load"). The answer is kept per process for
        ``API_TOKEN_CACHE_SECONDS`` (10 s by default; 0 turns it off): the token query and
        its compilation were most of a read's Python time. In this process a revocation,
        a deactivated user or a changed role applies at once (``forget_cached_tokens``,
        connected to those writes); in the other processes within that time."""
        ttl = settings.API_TOKEN_CACHE_SECONDS
        if not ttl:
            return self._read_user(token)
        key = hash_token(token)
        hit = _TOKEN_CACHE.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return copy.copy(hit[1])  # each request its own object: views may set attributes on it
        generation = _TOKEN_CACHE_GENERATION[0]
        user = self._read_user(token)
        if len(_TOKEN_CACHE) > 1000:
            _TOKEN_CACHE.clear()
        if user is None:
            _TOKEN_CACHE.pop(key, None)
        elif generation == _TOKEN_CACHE_GENERATION[0]:  # no revocation while it was read
            _TOKEN_CACHE[key] = (now + ttl, copy.copy(user))
        return user

    def _read_user(self, token: str):
        found = list(_token_with_role(hash_token(token)))
        if not found:
            return None
        found = found[0]
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at > timedelta(minutes=5):
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        user = found.user
        # the same answer as roles.user_role would read from the groups (strongest first)
        user._agrega_role = next((role for role in ROLE_ORDER if getattr(found, _flag(role))), None)
        return user


# token hash -> (expires at, monotonic clock; the user with ``_agrega_role``): see ``_user_for``
_TOKEN_CACHE: dict[str, tuple[float, object]] = {}
_TOKEN_CACHE_GENERATION = [0]  # bumped by every forget: a read begun before it is not kept


def forget_cached_tokens(**_signal_kwargs) -> None:
    """Drop every token this process keeps: a token revoked, a user saved (deactivated)
    or their groups changed (role). Such writes are rare, so the whole cache goes; the
    other processes see the change when their entries expire (``API_TOKEN_CACHE_SECONDS``).
    Connected to those models' signals in ``CoreConfig.ready``, so services, the admin
    and the CLI all count, whatever the transaction does afterwards."""
    _TOKEN_CACHE_GENERATION[0] += 1
    _TOKEN_CACHE.clear()


def _token_with_role(key_hash: str) -> QuerySet[ApiToken]:
    # key_hash is unique: at most one row, no ordering needed
    return (ApiToken.objects.select_related("user")
            .filter(key_hash=key_hash, revoked_at__isnull=True, user__is_active=True)
            .annotate(**_role_flags())[:1])



def _flag(role) -> str:
    return f"has_role_{role.name.lower()}"


@cache
def _role_flags() -> dict:
    """One EXISTS per role over the user's groups, to annotate on the token query."""
    groups = get_user_model().groups.through.objects
    return {_flag(role): Exists(groups.filter(user_id=OuterRef("user_id"), group__name=role.value))
            for role in ROLE_ORDER}


class SessionAuth(APIKeyCookie):
    """The browser's login session (CSRF-checked on writes, as Django does for forms).

    CSRF is asked only of a request that a session authenticates: without one there is
    nothing to forge, and the answer is 401 ``not_authenticated``, not a CSRF 403."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise ApplicationError("csrf_failed",
                                   "Verificação CSRF falhou: recarregue a página e tente de novo.",
                                   status_code=403)
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if key is None or user is None or not user.is_authenticated:
            return None
        return authorize(request, user)


AUTH = [TokenAuth(), SessionAuth()]


DB_INT_MAX = 2**63 - 1
TEXT_MAX = 10_000  # a string field with no rule of its own (core.text.TEXT_FIELD_MAX_LENGTH)
# An id or a cursor in a query: within what the database stores, so a huge or negative
# one is a 422 on every database (not an empty page on one and an error on another).
Id = Annotated[int, PydanticField(ge=1, le=DB_INT_MAX)]
Cursor = Annotated[int, PydanticField(ge=0, le=DB_INT_MAX)]


def _empty_is_none(value):
    return None if isinstance(value, str) and not value.strip() else value


def Choice(choices):  # noqa: N802
    """A filter over a closed set (an enum or a Literal): an unknown value is a 422, never
    an empty list; ``?status=`` (an empty form field) filters nothing, like no filter."""
    return Annotated[choices | None, BeforeValidator(_empty_is_none)]


def _kinds(annotation) -> set:
    """The plain types an annotation admits (Optional, unions and Annotated unwrapped;
    a list contributes ("list", its item kinds))."""
    from typing import Annotated, Union, get_args, get_origin
    from types import UnionType

    origin = get_origin(annotation)
    if origin is Annotated:
        return _kinds(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return set().union(*(_kinds(arg) for arg in get_args(annotation)))
    if origin is list:
        return {("list", frozenset(_kinds(get_args(annotation)[0])))}
    return {annotation}


def _strict_value(kinds: set, value, path: str):
    from pydantic_core import PydanticCustomError

    if value is None:
        return
    kinds = kinds - {type(None)}
    if isinstance(value, list):
        for item_kinds in (k[1] for k in kinds if isinstance(k, tuple)):
            for item in value:
                _strict_value(set(item_kinds), item, path)
        return
    if kinds & {int} and not kinds & {str, float, Decimal} and (
            isinstance(value, bool) or not isinstance(value, int)):
        raise PydanticCustomError("int_type", "deve ser um número inteiro (não um texto, decimal ou booleano).")
    if kinds & {int} and isinstance(value, int) and not -DB_INT_MAX <= value <= DB_INT_MAX:
        raise PydanticCustomError("value_out_of_range", "número fora do intervalo aceito.")
    if kinds == {bool} and not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "deve ser true ou false.")
    if isinstance(value, str) and len(value) > TEXT_MAX:
        raise PydanticCustomError("text_too_long", f"muito longo (máximo {TEXT_MAX} caracteres).")


class InputSchema(Schema):
    """A request body: types checked strictly (``true`` or ``1.0`` is no id, ``"1"`` no
    boolean), integers within what the database stores, every string bounded, and no
    field the operation does not know (a misspelt field is refused, not silently
    dropped: ``"fixd_amount"`` would otherwise create a recurrence without its amount).
    Query parameters stay lax ("12" is an id there): they are always strings."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _strict(cls, value, info):
        _strict_value(_kinds(cls.model_fields[info.field_name].annotation), value, info.field_name)
        return value


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, list[dict[str, str]]] | None = None


class ErrorOut(Schema):
    error: ErrorBody


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: int | None = None


def keyset_page(queryset: QuerySet, *, cursor: int | None, limit: int) -> tuple[list, int | None]:
    """Items with id > cursor, ordered by id; no COUNT, so it stays fast on big tables.
    Model instances, or dicts from ``.values(…, "id", …)``."""
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor is not None:
        queryset = queryset.filter(pk__gt=cursor)
    return _page(list(queryset.order_by("pk")[: limit + 1]), limit)


def page_of(rows: list, limit: int) -> tuple[list, int | None]:
    """A keyset page from ``rows`` read by hand-written SQL (``limit`` + 1 of them, by id):
    what ``keyset_page`` answers for its queryset."""
    return _page(rows, min(limit, MAX_LIMIT))


def _page(rows: list, limit: int) -> tuple[list, int | None]:
    """Up to ``limit`` of ``rows`` (read with one more, to know whether more follow) and
    the cursor of the next page."""
    more = len(rows) > limit
    rows = rows[:limit]
    if not (more and rows):
        return rows, None
    return rows, (rows[-1]["id"] if isinstance(rows[-1], dict) else rows[-1].pk)


def _refuse_control_chars(data, source: str) -> None:
    found = find_forbidden(data)
    if found:
        path, char = found
        raise ValidationFailed({path or source: [FieldError(
            "text_control_chars", f"Caracteres de controle não são aceitos (U+{ord(char):04X}).")]})


class CleanInputParser(Parser):
    """The API's backstop for every field, whatever its schema: no NUL, control character
    or lone surrogate in a JSON body or a query string (a NUL reaching PostgreSQL is a
    server error; elsewhere it is garbage stored). Each free-text field adds its own rule
    (``core.text.Text``)."""

    def parse_body(self, request):
        data = super().parse_body(request)
        _refuse_control_chars(data, "body")
        return data

    def parse_querydict(self, data, list_fields, request):
        result = super().parse_querydict(data, list_fields, request)
        _refuse_control_chars(result, "query")
        return result


def _error(api, request, status: int, code: str, message: str, fields=None, extra=None):
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    if extra:
        body.update(extra)
    return api.create_response(request, {"error": body}, status=status)


def _field_path(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload", "data", "filters")]
    return ".".join(parts) or "body"


# pydantic's own error types, in Portuguese (people read ``message``; programs read
# ``code``, pydantic's type, which stays as it is). Agrega's own checks already raise
# Portuguese messages (PydanticCustomError above); an unknown type keeps a generic one.
FIELD_MESSAGES = {
    "missing": "campo obrigatório.",
    "extra_forbidden": "campo desconhecido nesta operação.",
    "string_type": "deve ser um texto.",
    "int_type": "deve ser um número inteiro.",
    "int_parsing": "deve ser um número inteiro.",
    "int_from_float": "deve ser um número inteiro.",
    "float_type": "deve ser um número.",
    "float_parsing": "deve ser um número.",
    "decimal_type": "deve ser um número.",
    "decimal_parsing": "deve ser um número.",
    "bool_type": "deve ser true ou false.",
    "bool_parsing": "deve ser true ou false.",
    "list_type": "deve ser uma lista.",
    "dict_type": "deve ser um objeto.",
    "model_type": "deve ser um objeto.",
    "model_attributes_type": "deve ser um objeto.",
    "date_type": "deve ser uma data (AAAA-MM-DD).",
    "date_parsing": "deve ser uma data (AAAA-MM-DD).",
    "date_from_datetime_parsing": "deve ser uma data (AAAA-MM-DD).",
    "datetime_type": "deve ser data e hora (ISO 8601).",
    "datetime_parsing": "deve ser data e hora (ISO 8601).",
    "datetime_from_date_parsing": "deve ser data e hora (ISO 8601).",
    "enum": "valor não aceito; aceitos: {expected}.",
    "literal_error": "valor não aceito; aceitos: {expected}.",
    "string_too_short": "curto demais (mínimo {min_length} caracteres).",
    "string_too_long": "longo demais (máximo {max_length} caracteres).",
    "string_pattern_mismatch": "formato inválido.",
    "too_short": "itens de menos (mínimo {min_length}).",
    "too_long": "itens demais (máximo {max_length}).",
    "greater_than": "deve ser maior que {gt}.",
    "greater_than_equal": "deve ser maior ou igual a {ge}.",
    "less_than": "deve ser menor que {lt}.",
    "less_than_equal": "deve ser menor ou igual a {le}.",
    "json_invalid": "JSON inválido.",
    "json_type": "JSON inválido.",
    "url_parsing": "URL inválida.",
    "url_type": "URL inválida.",
    "uuid_parsing": "deve ser um UUID.",
    "uuid_type": "deve ser um UUID.",
}


def field_message(err: dict) -> str:
    """The Portuguese message of one pydantic error (``value_error``: the message our
    validator raised, without pydantic's English prefix)."""
    kind, msg = str(err.get("type", "")), str(err.get("msg", ""))
    if kind == "value_error":
        return msg.removeprefix("Value error, ") or "valor inválido."
    if msg[:1].islower():  # ours (PydanticCustomError, above): already Portuguese
        return msg
    if kind in FIELD_MESSAGES:
        try:
            ctx = {k: str(v).replace(" or ", " ou ") for k, v in (err.get("ctx") or {}).items()}
            return FIELD_MESSAGES[kind].format(**ctx)
        except (KeyError, IndexError, ValueError):
            return FIELD_MESSAGES[kind].split(";")[0].split("(")[0].strip().rstrip(".") + "."
    return "valor inválido."


def install_error_handlers(api) -> None:
    @api.exception_handler(ApplicationError)
    def application_error(request, exc: ApplicationError):
        return api.create_response(request, {"error": exc.as_dict()}, status=exc.status_code)

    @api.exception_handler(NinjaValidationError)
    def validation_error(request, exc: NinjaValidationError):
        fields: dict[str, list[dict[str, str]]] = {}
        for err in exc.errors:
            fields.setdefault(_field_path(err.get("loc", ())), []).append(
                {"code": str(err.get("type", "invalid")), "message": field_message(err)}
            )
        code = summary_code({e["code"] for errors in fields.values() for e in errors}, "invalid_input")
        return _error(api, request, 422, code, "Dados de entrada inválidos.", fields)

    @api.exception_handler(AuthenticationError)
    def auth_error(request, exc):
        return _error(api, request, 401, "not_authenticated",
                      "Autenticação necessária: envie 'Authorization: Bearer <token>'.")

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return _error(api, request, 404, "not_found", "Recurso não encontrado.")

    @api.exception_handler(OverflowError)
    def overflow_error(request, exc):
        # an id or a number beyond what the database stores: bad input, not a fault
        return _error(api, request, 422, "value_out_of_range", "Valor numérico fora do intervalo aceito.")

    @api.exception_handler(DataError)
    def data_error(request, exc):
        return _error(api, request, 422, "value_out_of_range", "Valor fora do intervalo aceito pelo banco de dados.")

    @api.exception_handler(RequestDataTooBig)
    @api.exception_handler(TooManyFieldsSent)
    @api.exception_handler(TooManyFilesSent)
    def request_too_large(request, exc):
        return _error(api, request, 413, "request_too_large",
                      "Requisição grande demais (corpo, campos ou arquivos acima do limite aceito).")

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if isinstance(exc.__cause__, ApplicationError):  # the parser refused what it read
            return application_error(request, exc.__cause__)
        if isinstance(exc.__cause__, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
            return request_too_large(request, exc.__cause__)
        if exc.status_code == 400:  # ninja could not parse the body
            return _error(api, request, 400, "invalid_body", "Corpo da requisição inválido (JSON malformado?).")
        code = {403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(api, request, exc.status_code, code, str(exc))


_ERROR_REF = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
_DEFAULT_ERRORS = {
    "400": "Corpo inválido (JSON malformado).",
    "401": "Sem autenticação, ou token ausente, malformado, revogado ou de usuário desativado (not_authenticated).",
    "403": "O papel do usuário não permite (ou, numa sessão do navegador, faltou o token CSRF: csrf_failed).",
    "404": "Não encontrado.",
    "409": "Recusado pelas regras (transição inválida, conflito).",
    "413": "Requisição grande demais.",
    "422": "Dados inválidos (cada campo com seu código).",
}


def document_default_errors(schema: dict) -> dict:
    """Every operation can answer with the error shape: 400/422 for input, 401/403 for
    access, 404 for ids in the path, 409 for writes the rules refuse. Declared once here
    so clients (and schemathesis) see the whole contract."""
    schema.setdefault("components", {}).setdefault("schemas", {})
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            wanted = {"400", "422"}
            if method.lower() != "get":
                wanted.add("413")
            if operation.get("security"):
                wanted |= {"401", "403"}
            if "{" in path:
                wanted.add("404")
            if method.lower() != "get":
                wanted.add("409")
            for code in sorted(wanted):
                if code not in operation["responses"] and int(code) not in operation["responses"]:
                    operation["responses"][code] = {"description": _DEFAULT_ERRORS[code], **_ERROR_REF}
    return schema


class FastJSONRenderer(JSONRenderer):
    """The API's answers through orjson: a page of 50 contracts rendered in a tenth of
    the time ``json.dumps`` took (bench/README.md, "api_load"). Dates, times, decimals
    and anything orjson does not know go to ninja's own encoder, so every value keeps
    the text it had (``2026-12-07T10:00:00.123Z``, ``"9.90"``); the output is UTF-8
    instead of ``\\u`` escapes. A value orjson refuses (an integer beyond 64 bits) falls
    back to ``json.dumps`` as before."""

    _OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
    _encoder = NinjaJSONEncoder()

    def render(self, request, data, *, response_status: int):
        try:
            return orjson.dumps(data, default=self._encoder.default, option=self._OPTIONS)
        except TypeError:
            return super().render(request, data, response_status=response_status)


def _datetime_text(value):
    """A datetime as Django's JSON encoder writes it (milliseconds, ``Z`` for UTC), which
    is what the API has always answered; anything else to ninja's encoder."""
    if isinstance(value, datetime):
        text = value.isoformat()
        if value.microsecond:
            text = text[:23] + text[26:]
        if text.endswith("+00:00"):
            text = text[:-6] + "Z"
        return text
    return FastJSONRenderer._encoder.default(value)


def json_answer(data) -> HttpResponse:
    """A 200 answer of plain values already shaped as the route's schema declares them
    (keys in the schema's order; ``tests/api/test_api_read_paths.py`` holds each such answer
    to the bytes ninja renders from the schema). For the hot list pages, where the schema
    is a pass-through of the rows: building a schema object per row and serializing it
    cost more Python than the query (bench/README.md, "api_load"). The route keeps its
    ``response=`` schema, so the OpenAPI document is unchanged."""
    try:
        body = orjson.dumps(data, default=_datetime_text, option=FastJSONRenderer._OPTIONS)
    except TypeError:
        body = FastJSONRenderer().render(None, data, response_status=200)
    return HttpResponse(body, content_type=f"{FastJSONRenderer.media_type}; charset={FastJSONRenderer.charset}")


class AgregaNinjaAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document declares the default error answers, and whose
    parser refuses control characters in any input (``CleanInputParser``).

    The document is built once per process and prefix: building it takes most of a
    second of CPU (over a hundred operations), and the routes never change at run time."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("parser", CleanInputParser())
        kwargs.setdefault("renderer", FastJSONRenderer())
        super().__init__(*args, **kwargs)

    def create_temporal_response(self, request):
        """Every operation passes here before its parameters are read: a query parameter it does
        not declare is refused (422 ``unknown_parameter``) instead of ignored, so a client that
        misspells a filter (``due_from``) is told so instead of getting every row."""
        self._refuse_unknown_query(request)
        return super().create_temporal_response(request)

    def _refuse_unknown_query(self, request) -> None:
        if not request.GET:
            return
        match = request.resolver_match
        if match is None:  # not reached through the URL configuration: nothing to compare with
            return
        key = (match.route, request.method)  # a route pattern, never the client's path: the cache stays bounded
        declared = self.__dict__.setdefault("_declared_query", {})
        if key not in declared:
            declared[key] = self._query_names(key[0], request.method)
        allowed = declared[key]
        unknown = sorted(name for name in request.GET if name not in allowed)
        if unknown:
            accepted = ", ".join(sorted(allowed)) or "nenhum"
            raise ValidationFailed(
                {name[:100]: [FieldError("unknown_parameter",
                                         f"parâmetro desconhecido nesta operação; aceitos: {accepted}.")]
                 for name in unknown[:20]},
                message="Parâmetros desconhecidos na consulta: " + ", ".join(n[:100] for n in unknown[:20]) + ".")

    def _query_names(self, route: str, method: str) -> frozenset[str]:
        """The query parameters the OpenAPI document declares for this route and method (the
        document is the contract clients read, so it is also the list of what is accepted)."""
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.lstrip("^").rstrip("$"))
        operation = self.get_openapi_schema()["paths"].get(path, {}).get(method.lower(), {})
        return frozenset(p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")

    def get_openapi_schema(self, path_prefix=None, path_params=None):
        cache = self.__dict__.setdefault("_openapi_documents", {})
        key = (path_prefix, tuple(sorted((path_params or {}).items())))
        if key not in cache:
            cache[key] = document_default_errors(
                super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params))
        return cache[key]

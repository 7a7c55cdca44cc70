"""What every API router shares: token auth, the error shape, keyset pagination, and
reads compiled once (``PreparedQuery``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Generic, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import DataError, connections
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.query import ModelIterable, ValuesIterable, get_related_populators
from django.http import Http404
from django.utils import timezone
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from .errors import ApplicationError
from .models import ApiToken, hash_token
from .roles import _ORDER as ROLE_ORDER
from .roles import Capability, has_capability, user_role

T = TypeVar("T")
MAX_LIMIT = 500


class PreparedQuery:
    """A read that every request makes, compiled to SQL once per database connection and
    then run with each request's values.

    Building and compiling an ORM query costs 0.4–2.5 ms of CPU (the token's, with its
    three EXISTS, the most), running it 0.1–0.2 ms (bench/README.md, "api_load"). So
    ``build(*values)`` is called once, with stand-in values, and the SQL it compiles to is
    kept, with the positions of the stand-ins among its parameters; each call then sends
    that SQL with the real values and builds the rows as the ORM would (model instances
    with their ``select_related`` objects and annotations, or dicts for ``values()``),
    through the same cursor (so query counting, wrappers and converters still apply).

    ``build`` must compile to the same SQL whatever the values: no branching on them, each
    used as it is (exact, gt, lt …) or as a LIKE pattern (contains, icontains, iexact on
    SQLite …, escaped again for each value as the ORM escapes it), no ``prefetch_related``.
    A value the ORM would treat specially (an integer beyond 64 bits, which it answers
    with no rows) goes through the ORM as before."""

    _INT_LIMIT = 2**63

    def __init__(self, build: Callable[..., QuerySet], *kinds: type, binary: bool = False):
        self.build = build
        self.kinds = kinds  # int or str, one per value
        # binary: PostgreSQL sends the rows in binary, which psycopg reads in C (its text
        # datetime loader, which Django installs, is Python: 4 µs a timestamp). Not for
        # JSON columns, which Django decodes from text itself.
        self.binary = binary

    def _stand_ins(self) -> list:
        # values no request sends, within every integer range; the "_" shows whether a
        # LIKE lookup escaped the string
        return [7_310_000_000_000_000_000 + 1_000_003 * i if kind is int else f"\x01prepared_{i}\x01"
                for i, kind in enumerate(self.kinds)]

    def _compile(self, connection):
        stand_ins = self._stand_ins()
        queryset = self.build(*stand_ins)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        params = list(params)
        positions = []  # per value: (index in params, None) or (index, (before, after)) for LIKE
        for stand_in in stand_ins:
            found = []
            escaped = connection.ops.prep_for_like_query(stand_in) if isinstance(stand_in, str) else None
            for i, param in enumerate(params):
                if type(param) is type(stand_in) and param == stand_in:
                    found.append((i, None))
                elif escaped is not None and isinstance(param, str) and escaped in param:
                    before, _, after = param.partition(escaped)
                    found.append((i, (before, after)))
                elif isinstance(param, str) and isinstance(stand_in, str) and stand_in in param:
                    raise ImproperlyConfigured(f"PreparedQuery: value {stand_in!r} rewritten in {sql}")
            if not found:
                raise ImproperlyConfigured(f"PreparedQuery: value {stand_in!r} not among the parameters of {sql}")
            positions.append(found)
        fields = [s[0] for s in compiler.select[: compiler.col_count]]
        if self.binary and any(getattr(f, "output_field", None) is not None
                               and f.output_field.get_internal_type() == "JSONField" for f in fields):
            raise ImproperlyConfigured("PreparedQuery: binary rows with a JSON column")
        entry = {"sql": sql, "params": params, "positions": positions, "compiler": compiler,
                 "converters": compiler.get_converters(fields), "width": compiler.col_count,
                 # a LIKE pattern is left to a plan made for it (a generic plan could not
                 # pick the trigram index for a pattern it does not know)
                 "prepare": not any(like for found in positions for _, like in found)}
        if queryset._iterable_class is ModelIterable:
            klass_info, select = compiler.klass_info, compiler.select
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            entry.update(kind="model", model=klass_info["model"], start=start, end=end,
                         init_list=[f[0].target.attname for f in select[start:end]],
                         populators=get_related_populators(klass_info, select, connection.alias),
                         annotations=dict(compiler.annotation_col_map or {}))
        elif queryset._iterable_class is ValuesIterable:
            query = queryset.query
            names = list(query.selected) if query.selected else [
                *query.extra_select, *query.values_select, *query.annotation_select]
            entry.update(kind="values", names=names)
        else:
            raise ImproperlyConfigured("PreparedQuery: model instances or values() only")
        return entry

    def fetch(self, *values, using: str = "default") -> list:
        if any(type(v) is int and not -self._INT_LIMIT <= v < self._INT_LIMIT for v in values):
            return list(self.build(*values))
        connection = connections[using]
        # kept on the connection (one per thread), so it goes when the connection goes
        compiled = connection.__dict__.setdefault("_agrega_prepared_queries", {})
        entry = compiled.get(self)
        if entry is None:
            entry = compiled[self] = self._compile(connection)
        params = list(entry["params"])
        for found, value in zip(entry["positions"], values, strict=True):
            for position, like in found:
                params[position] = value if like is None else (
                    like[0] + connection.ops.prep_for_like_query(value) + like[1])
        with _cursor(connection, binary=self.binary, prepare=entry["prepare"]) as cursor:
            cursor.execute(entry["sql"], params)
            rows = cursor.fetchall()
        width = entry["width"]
        rows = [row[:width] for row in rows] if rows and len(rows[0]) > width else rows
        if entry["converters"]:
            rows = list(entry["compiler"].apply_converters(rows, entry["converters"]))
        if entry["kind"] == "values":
            names = entry["names"]
            return [dict(zip(names, row)) for row in rows]
        model, init_list, start, end = entry["model"], entry["init_list"], entry["start"], entry["end"]
        objects = []
        for row in rows:
            obj = model.from_db(connection.alias, init_list, row[start:end])
            for populator in entry["populators"]:
                populator.populate(row, obj)
            for name, position in entry["annotations"].items():
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


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
}


def required_capability(request) -> str:
    if request.method in SAFE_METHODS:
        return Capability.VIEW
    path = request.path_info.split("/api/", 1)[-1]
    return WRITE_CAPABILITY.get(path.split("/", 1)[0], Capability.CONFIGURE)


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


class TokenAuth(HttpBearer):
    """``Authorization: Bearer agr_…``; only the token's hash is stored."""

    openapi_scheme = "bearer"

    def authenticate(self, request, token: str):
        user = self._user_for(token)
        if user is None:
            return None
        request.user = user
        return authorize(request, user)

    def _user_for(self, token: str):
        """The token's user with their role, read in one query: the role is asked on every
        request (``authorize``), and reading the groups was a second query on every API
        call (bench/README.md, "api_load")."""
        found = _TOKEN_QUERY.fetch(hash_token(token))
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


def _token_with_role(key_hash: str) -> QuerySet[ApiToken]:
    # key_hash is unique: at most one row, no ordering needed
    return (ApiToken.objects.select_related("user")
            .filter(key_hash=key_hash, revoked_at__isnull=True, user__is_active=True)
            .annotate(**_role_flags())[:1])


# every API request by token reads this: compiled once (PreparedQuery's docstring)
_TOKEN_QUERY = PreparedQuery(_token_with_role, str)


def _flag(role) -> str:
    return f"has_role_{role.name.lower()}"


@cache
def _role_flags() -> dict:
    """One EXISTS per role over the user's groups, to annotate on the token query."""
    groups = get_user_model().groups.through.objects
    return {_flag(role): Exists(groups.filter(user_id=OuterRef("user_id"), group__name=role.value))
            for role in ROLE_ORDER}


class SessionAuth(APIKeyCookie):
    """The browser's login session (CSRF-checked on writes, as Django does for forms)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return authorize(request, user)


AUTH = [TokenAuth(), SessionAuth()]


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
    rows = list(queryset.order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    if not (more and rows):
        return rows, None
    return rows, (rows[-1]["id"] if isinstance(rows[-1], dict) else rows[-1].pk)


def _cursor(connection, *, binary: bool = False, prepare: bool = True):
    """``connection.cursor()``, but on PostgreSQL one that binds its parameters on the
    server. Django's psycopg cursors interpolate them into the SQL text, so PostgreSQL
    parses and plans every statement again; bound on the server, each statement is
    prepared once per connection and then only its values are sent.
    Wrapped like Django's own cursors: queries are logged, counted and wrapped alike."""
    if connection.vendor != "postgresql" or not prepare:
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django sets None (no prepared statements at all, for transaction-mode poolers);
        # a threshold never reached keeps every other statement unprepared, as before
        raw.prepare_threshold = 2**31 - 1
    with connection.wrap_database_errors:
        cursor = _preparing_cursor_class()(raw)
        cursor.binary_rows = binary
        return connection._prepare_cursor(cursor)


@cache
def _preparing_cursor_class():
    import psycopg

    class PreparingCursor(psycopg.Cursor):
        """Prepares its statement on first use: these few are run on every request."""

        binary_rows = False

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True if prepare is None else prepare,
                                   binary=self.binary_rows if binary is None else binary)

    return PreparingCursor


_KEYSET_QUERIES: dict[tuple, PreparedQuery] = {}


def prepared_keyset_page(build: Callable[..., QuerySet], filters: dict, *, cursor: int | None,
                         limit: int, binary: bool = False) -> tuple[list, int | None]:
    """``keyset_page(build(**filters), …)`` for a list read on every request: compiled once
    per shape (which filters are given, whether there is a cursor, the page size) through
    ``PreparedQuery``. A filter that is None is left out (``build`` gets no argument for
    it); the others must be ints or strings that ``build`` uses as they are."""
    limit = max(1, min(limit, MAX_LIMIT))
    given = {name: value for name, value in filters.items() if value is not None}
    if any(type(value) not in (int, str) for value in given.values()):
        return keyset_page(build(**given), cursor=cursor, limit=limit)
    names = tuple(given)
    key = (build, names, tuple(type(v) for v in given.values()), cursor is not None, limit, binary)
    prepared = _KEYSET_QUERIES.get(key)
    if prepared is None:
        def page(*values):
            queryset = build(**dict(zip(names, values)))
            if cursor is not None:
                queryset = queryset.filter(pk__gt=values[-1])
            return queryset.order_by("pk")[: limit + 1]

        kinds = [type(v) for v in given.values()] + ([int] if cursor is not None else [])
        prepared = _KEYSET_QUERIES[key] = PreparedQuery(page, *kinds, binary=binary)
    rows = prepared.fetch(*given.values(), *([cursor] if cursor is not None else []))
    more = len(rows) > limit
    rows = rows[:limit]
    if not (more and rows):
        return rows, None
    return rows, (rows[-1]["id"] if isinstance(rows[-1], dict) else rows[-1].pk)


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


def install_error_handlers(api) -> None:
    @api.exception_handler(ApplicationError)
    def application_error(request, exc: ApplicationError):
        return api.create_response(request, {"error": exc.as_dict()}, status=exc.status_code)

    @api.exception_handler(NinjaValidationError)
    def validation_error(request, exc: NinjaValidationError):
        fields: dict[str, list[dict[str, str]]] = {}
        for err in exc.errors:
            fields.setdefault(_field_path(err.get("loc", ())), []).append(
                {"code": str(err.get("type", "invalid")), "message": str(err.get("msg", "inválido"))}
            )
        return _error(api, request, 422, "invalid_input", "Dados de entrada inválidos.", fields)

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

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if exc.status_code == 400:  # ninja could not parse the body
            return _error(api, request, 400, "invalid_body", "Corpo da requisição inválido (JSON malformado?).")
        code = {403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(api, request, exc.status_code, code, str(exc))


_ERROR_REF = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
_DEFAULT_ERRORS = {
    "400": "Corpo inválido (JSON malformado).",
    "401": "Sem autenticação.",
    "403": "O papel do usuário não permite.",
    "404": "Não encontrado.",
    "409": "Recusado pelas regras (transição inválida, conflito).",
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


class AgregaNinjaAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document declares the default error answers.

    The document is built once per process and prefix: building it takes most of a
    second of CPU (over a hundred operations), and the routes never change at run time."""

    def get_openapi_schema(self, path_prefix=None, path_params=None):
        cache = self.__dict__.setdefault("_openapi_documents", {})
        key = (path_prefix, tuple(sorted((path_params or {}).items())))
        if key not in cache:
            cache[key] = document_default_errors(
                super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params))
        return cache[key]

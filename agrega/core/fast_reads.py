"""Fast reads: a hot API read answered without ninja's operation and the middleware chain's
wrappers (and, for an exact path, URL resolution), for the one request shape that cannot
need them (decision 0016).

A token API request (decision 0015) that is exactly ``GET <registered path>`` (or, for a
path registered with one trailing ``{parameter}``, ``GET <its prefix>/<one segment>``) is first tried
here, inside ``TokenApiHandler.get_response``: Django's WSGI handler has already made the
request (signals, ``WSGIRequest``) and will send the answer as for any other. The fast read
answers **only a clean 200** built by the route's own code; on any doubt — a middleware's
check that would act, a token that does not authenticate, a query parameter it does not
know, a value the route's parser refuses, any exception — it answers ``None`` and the
request goes on through the token chain unchanged, whose answer (401, 403, 404, 422, …) is
Django's and ninja's as before.

What it reuses rather than retypes: the middlewares' own ``process_request`` (the HTTPS
redirect, the ``ALLOWED_HOSTS`` check through ``get_host()``) and response code (the
security headers, CSP, ``Cache-Control``, ``X-Frame-Options``, ``Content-Length``), in the
chain's order; the route's ninja operation, found through Django's URL resolver (once, or
for a path parameter on each request, whose match's kwargs go to the route's path model) (its
auth callbacks — ``core.api.TokenAuth`` with its cache, revocation and capability check —
its query model, its parser, its view function).

Adding a fast read: ``register(path, view, params)`` beside the route (the view must answer
a finished ``HttpResponse``, e.g. ``core.api.json_answer``); ``tests/api/test_fast_reads.py``
holds its answers to the token chain's, byte for byte. Removing one: delete the call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, get_resolver, resolve, set_urlconf
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class FastRead:
    """One registered read: the path, the route's view function, the query parameters it
    may answer (each at most once), and the route's ninja operation once resolved.

    A path whose last segment is a parameter (``/api/contracts/{contract_id}``, ninja's
    spelling) is a *pattern* read: it is asked for any ``<prefix>/<one segment>`` and
    resolves that path with Django's own ``resolve()``, as the chain would; it answers only
    when the match is this route's view, and hands the match's kwargs to the route's path
    model (ninja's conversion and validation of the value, e.g. ``int``)."""

    def __init__(self, path: str, view: Callable, params: Iterable[str]):
        self.path = path
        self.view = view
        self.params = frozenset(params)
        prefix, _, last = path.rpartition("/")
        self.pattern = "{" in path
        if self.pattern and ("{" in prefix or not (last.startswith("{") and last.endswith("}"))):
            raise ValueError(f"a fast read takes one path parameter, its last segment: {path}")
        self.prefix = prefix + "/" if self.pattern else None
        self._operation = None
        self._django_view = None  # a pattern read's: the view Django's resolver reaches
        self._digits = None  # (kwarg name, converter) once proved (_digits_route)

    def operation(self):
        """The ninja operation Django's URL resolver reaches for ``GET path`` (resolved once:
        the routes never change at run time); ``None`` if it is not ``view``'s, takes path
        parameters, throttles or wants ninja's temporal response: then nothing is fast."""
        if self._operation is None:
            try:
                match = resolve(self.path)
            except Resolver404:
                match = None
            self._operation = (match is not None and not match.kwargs and _operation_at(match, self.view)) or False
        return self._operation or None

    def _match(self, request: HttpRequest):
        """A pattern read's operation and path values for this request, or ``(None, None)``.

        A segment of ASCII digits skips ``resolve()`` (~60 µs) once ``_digits_route`` has
        shown, from the URL patterns themselves, that Django would resolve any such path to
        this route with the segment as its one kwarg; anything else is resolved."""
        segment = request.path_info[len(self.prefix):]
        if self._digits is not None and segment.isascii() and segment.isdigit():
            name, to_python = self._digits
            return self._operation, {name: to_python(segment)}
        match = resolve(request.path_info)  # Resolver404: the chain's 404
        if match.args:
            return None, None
        if match.func is not self._django_view:
            operation = _operation_at(match, self.view)
            if operation is None:
                return None, None
            self._operation, self._django_view = operation, match.func
            self._digits = _digits_route(self.prefix, match.func)
        return self._operation, match.kwargs

    def answer(self, request: HttpRequest) -> HttpResponse | None:
        operation, path_values = self._match(request) if self.pattern else (self.operation(), {})
        if operation is None:
            return None
        query = request.GET
        if not self.params.issuperset(query.keys()) or any(len(values) != 1 for _, values in query.lists()):
            return None  # unknown (422 from the route) or repeated: the chain says
        if operation.csrf_exempt:
            request._ninja_csrf_exempt = True
        # the route's own path and query models and parser (types, bounds, control characters)
        values: dict = {}
        for model in operation.models:
            values.update(model.resolve(request, operation.api, path_values))
        # the route's own authentication, as ninja runs it (the token, its cache, the role)
        for callback in operation.auth_callbacks:
            result = callback(request)
            if result:
                request.auth = result
                break
        else:
            return None
        response = operation.view_func(request, **values)
        if type(response) is not HttpResponse or response.status_code != 200:
            return None
        return response


def _operation_at(match, view: Callable):
    """The ``GET`` operation of the ninja path view Django's resolver ``match`` reached, if it
    is ``view``'s and plain (no throttle, no temporal response, not async); else ``None``."""
    from ninja.operation import PathView

    path_view = next((cell.cell_contents for cell in (match.func.__closure__ or ())
                      if isinstance(cell.cell_contents, PathView)), None)
    if path_view is None:
        return None
    operation = next((op for op in path_view.operations if "GET" in op.methods), None)
    if (operation is None or operation.view_func is not view or operation.throttle_objects
            or operation.signature.response_arg or getattr(operation, "is_async", False)):
        return None
    return operation


_BLOCKED = object()


def _digits_route(prefix: str, view: Callable):
    """``(name, to_python)`` if Django's resolver provably sends every ``prefix<ASCII digits>``
    to ``view`` with that segment as its only kwarg: walking the URL patterns in the
    resolver's order, no pattern before the view's can match such a path (read from its
    route's literal start), and the view's own is ``prefix<name>`` (a ``str`` or ``int``
    converter) with no default kwargs. ``None`` (always ``resolve()``) for anything it cannot
    prove: a regex pattern on the way, a converter in an include, default kwargs."""
    from django.urls.converters import IntConverter, StringConverter
    from django.urls.resolvers import RoutePattern, URLResolver

    target = prefix.lstrip("/")

    def could_match(start: str, endpoint_literal: bool) -> bool:
        """Can a path ``target<digits>`` match a pattern whose full route starts with (or,
        for ``endpoint_literal``, is exactly) ``start``?"""
        if start.startswith(target) and start[len(target):].isascii() and start[len(target):].isdigit():
            return True
        return not endpoint_literal and target.startswith(start)

    def search(resolver, literal: str):
        for entry in resolver.url_patterns:
            pattern = entry.pattern
            if not isinstance(pattern, RoutePattern):
                return _BLOCKED  # a regex: its literal start is not read here
            route = str(pattern)
            fixed, converter, _ = route.partition("<")
            if isinstance(entry, URLResolver):
                if not could_match(literal + fixed, False):
                    continue
                if converter or entry.default_kwargs:
                    return _BLOCKED
                found = search(entry, literal + route)
                if found is not None:
                    return found
            elif entry.callback is view:
                spec = (literal + route)[len(target):]
                if (not (literal + route).startswith(target) or not spec.startswith("<") or not spec.endswith(">")
                        or spec.count("<") != 1 or entry.default_args):
                    return _BLOCKED
                name = spec[1:-1].rpartition(":")[2]
                if type(pattern.converters.get(name)) not in (StringConverter, IntConverter):
                    return _BLOCKED
                return name, pattern.converters[name].to_python
            elif could_match(literal + fixed, not converter):
                return _BLOCKED
        return None

    found = search(get_resolver(), "")
    return None if found is _BLOCKED else found


_READS: dict[str, FastRead] = {}
_PATTERNS: dict[str, FastRead] = {}  # by prefix ("/api/contracts/")


def register(path: str, view: Callable, params: Iterable[str]) -> None:
    """Answer ``GET path`` (exactly, no trailing slash; or, for a path ending in one
    ``{parameter}``, any one segment there) through ``view`` when its query holds only
    ``params``."""
    read = FastRead(path, view, params)
    (_PATTERNS if read.pattern else _READS)[read.prefix or path] = read


def unregister(path: str) -> None:
    _READS.pop(path, None)
    _PATTERNS.pop(path.rpartition("/")[0] + "/", None)


def registered() -> dict[str, FastRead]:
    return {**_READS, **{read.path: read for read in _PATTERNS.values()}}


def _never(request):  # pragma: no cover - the middlewares below are called step by step
    raise AssertionError("a fast read never reaches the view through the middleware")


class TokenChainSteps:
    """``settings.API_TOKEN_MIDDLEWARE`` step by step, for a ``GET`` that a fast read may
    answer: each middleware's request check (``None`` to go on) and its response code, in
    the chain's order. A middleware not known here turns every fast read off (and
    ``tests/api/test_fast_reads.py`` fails) until its effect on a token ``GET`` is decided."""

    # Each known middleware, by the dotted name settings give, with the names of its methods
    # that act on a token GET: its request check (None to go on) and its response-side work
    # (request, response) -> response; (None, None) when it does nothing to such a request.
    # The classes are loaded from those names as Django loads them (import_string): core
    # imports no app's middleware module.
    KNOWN: dict[str, tuple[str | None, str | None]] = {
        "django.middleware.security.SecurityMiddleware": ("process_request", "process_response"),
        # the Host check (get_host(), ALLOWED_HOSTS), user agents, PREPEND_WWW; Content-Length
        "django.middleware.common.CommonMiddleware": ("process_request", "process_response"),
        # request.user is the token's user once authenticated, anonymous before: nothing reads it earlier here
        "agrega.core.handlers.AnonymousUntilAuthenticatedMiddleware": (None, None),
        "agrega.core.uploads.UploadLimitMiddleware": (None, None),  # multipart writes only
        "agrega.ops.middleware.SecurityHeadersMiddleware": (None, "add_headers"),  # CSP, Cache-Control, …
        "agrega.core.middleware.InputLimitsMiddleware": (None, None),  # an API GET: bodies of writes only
        "agrega.core.idempotency.IdempotencyMiddleware": (None, None),  # POST only
        "django.middleware.clickjacking.XFrameOptionsMiddleware": (None, "process_response"),
    }

    def __init__(self, middleware: list[str]):
        known = self.KNOWN
        self.unknown = [name for name in middleware if name not in known]
        steps = []
        for name in middleware:
            if name in known and known[name] != (None, None):
                instance = import_string(name)(_never)
                steps.append(tuple(getattr(instance, method) if method else None for method in known[name]))
        self.before = [check for check, _ in steps if check is not None]
        self.after = [add for _, add in reversed(steps) if add is not None]

    def admit(self, request: HttpRequest) -> bool:
        for check in self.before:
            if check(request) is not None:
                return False
        return True

    def finish(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        for add in self.after:
            response = add(request, response)
        return response


class FastReads:
    """What ``TokenApiHandler`` asks first: a registered read's answer, or ``None``."""

    def __init__(self):
        self.steps = TokenChainSteps(settings.API_TOKEN_MIDDLEWARE)
        self.routes_loaded = False
        if self.steps.unknown:
            logger.warning("fast reads off: middleware %s not known to core.fast_reads", self.steps.unknown)

    def get_response(self, request: HttpRequest) -> HttpResponse | None:
        if request.method != "GET" or self.steps.unknown:
            return None
        if not self.routes_loaded:  # the API's modules, which register their reads, load with the URLs
            get_resolver(settings.ROOT_URLCONF).url_patterns  # noqa: B018
            self.routes_loaded = True
        path = request.path_info
        read = _READS.get(path)
        if read is None:
            prefix, _, segment = path.rpartition("/")
            read = _PATTERNS.get(prefix + "/") if segment else None
            if read is None:
                return None
        try:
            set_urlconf(settings.ROOT_URLCONF)
            if not self.steps.admit(request):
                return None
            response = read.answer(request)
            if response is not None:
                response = self.steps.finish(request, response)
        except Exception:  # noqa: BLE001 — any doubt is the token chain's to answer, errors included
            response = None
        if type(response) is not HttpResponse or response.status_code != 200:
            for name in ("user", "auth", "_ninja_csrf_exempt"):  # the chain starts from the request as it came
                request.__dict__.pop(name, None)
            return None
        response._resource_closers.append(request.close)
        return response

"""The web's WSGI entry point: Django's handler, and a second one with a shorter middleware
chain for API requests that a token authenticates (decision 0015).

A request to ``/api/`` that sends ``Authorization: Bearer …`` and no ``Cookie`` header has
no session to read, no CSRF to check, no messages or htmx to serve: the token alone
decides who asks (``core.api.TokenAuth`` judges any request with an ``Authorization``
header by it alone). Django's session, CSRF, authentication, messages, htmx and whitenoise
middleware did nothing for it but still cost about a tenth of a read's CPU (bench/README.md,
"api_load"). ``settings.API_TOKEN_MIDDLEWARE`` is the chain such a request goes through:
everything in ``MIDDLEWARE`` that acts on it (the host check, security headers, input
limits, idempotency, upload bounds). Any other request — a browser's, with its cookies;
the API docs; a page — takes ``MIDDLEWARE`` in full.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.wsgi import WSGIHandler


def is_token_api_request(environ: dict) -> bool:
    """An API call that a token authenticates and no cookie could: what the short chain
    serves. ``/api/docs`` is a page (a template with the browser's context) and stays out."""
    path = environ.get("PATH_INFO", "")
    return (path.startswith("/api/") and not path.startswith("/api/docs")
            and "HTTP_COOKIE" not in environ
            and environ.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer ")


class TokenApiHandler(WSGIHandler):
    """Django's WSGI handler built from ``settings.API_TOKEN_MIDDLEWARE`` instead of
    ``MIDDLEWARE``. Django builds the chain from ``settings.MIDDLEWARE`` once, when the
    handler is made (at start-up, before any request): the list is swapped for that call
    only."""

    def load_middleware(self, is_async=False):
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_TOKEN_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class AnonymousUntilAuthenticatedMiddleware:
    """``request.user`` as ``AuthenticationMiddleware`` gives it to a request without a
    session cookie (anonymous) until the token authenticates it, so code that reads it
    before or without authentication (a public route, an error) behaves the same on both
    chains."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.user = AnonymousUser()
        return self.get_response(request)


class AgregaWSGIApplication:
    """One WSGI application, two Django handlers: a token API request to the short
    chain, everything else to the full one."""

    def __init__(self, full: WSGIHandler):
        self.full = full
        self.token_api = TokenApiHandler()

    def __call__(self, environ, start_response):
        handler = self.token_api if is_token_api_request(environ) else self.full
        return handler(environ, start_response)

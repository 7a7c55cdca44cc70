"""Input limits every request meets before any view (see core.text for the rule)."""

from __future__ import annotations

from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.http import JsonResponse

from .text import find_forbidden

TOO_LARGE = {"error": {"code": "request_too_large",
                       "message": "Requisição grande demais (corpo, campos ou arquivos acima do limite aceito)."}}


class InputLimitsMiddleware:
    """An API write whose body is over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` answers 413 in the
    API's error shape, whoever reads the body first (the idempotency middleware does,
    before the API); a page's query string with a control character (a NUL reaching
    PostgreSQL is a server error) is a 400. The API refuses those itself, with 422 and
    the field (core.api.CleanInputParser)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/"):
            if request.method in ("POST", "PUT", "PATCH") and not request.content_type.startswith("multipart/"):
                try:
                    request.body  # noqa: B018 — read once, bounded; later readers get it from memory
                except (RequestDataTooBig, TooManyFieldsSent):
                    return JsonResponse(TOO_LARGE, status=413)
            return self.get_response(request)
        if find_forbidden(dict(request.GET.lists())):
            raise BadRequest("Parâmetro com caractere de controle.")
        return self.get_response(request)

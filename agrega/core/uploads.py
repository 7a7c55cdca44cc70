"""Uploads are bounded before they are read.

Django streams a multipart body to memory or a temporary file whatever its size, and a
view that then calls ``.read()`` and checks the length has already taken it all in. So
every multipart request (pages, API, any file: CSV imports, payment files, future
certificates) passes ``UploadLimitMiddleware`` first:

* a declared ``Content-Length`` above the limit (plus a little room for the other form
  fields) is refused before one byte of the body is read;
* otherwise ``LimitedUploadHandler`` goes first in the upload handler chain: it counts
  the file bytes as they stream in and stops the parse the moment they pass the limit
  (nothing further is read, nothing is kept). Pages are parsed right here (before the
  CSRF check reads the form); the API parses in the operation, where the refusal is
  answered by its ApplicationError handler.

The refusal is ``file_too_large`` (413) with the limit in the message: the API's error
JSON, or, on a page, the message shown on the same page again. Files read by the CLI go
through ``read_file`` (size checked, then at most limit + 1 bytes read).

Limit: ``settings.AGREGA_UPLOAD_MAX_BYTES`` (environment ``AGREGA_UPLOAD_MAX_MB``).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpResponseRedirect, JsonResponse

from .errors import ApplicationError, FieldError

# Room for the multipart boundaries, part headers and the small form fields that travel
# with the file; the file itself is counted exactly by the handler.
FORM_ROOM = 256 * 1024


def max_upload_bytes() -> int:
    return int(getattr(settings, "AGREGA_UPLOAD_MAX_BYTES", 32 * 1024 * 1024))


def human(size: int) -> str:
    mb = size / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 else f"{max(1, size // 1024)} KB"


class FileTooLarge(ApplicationError):
    status_code = 413

    def __init__(self, limit: int | None = None):
        limit = max_upload_bytes() if limit is None else limit
        message = f"Arquivo grande demais: o limite é {human(limit)}."
        super().__init__("file_too_large", message, fields={"file": [FieldError("file_too_large", message)]},
                         extra={"limit_bytes": limit})
        self.limit = limit


def check_size(size: int, limit: int | None = None) -> None:
    """For services that receive bytes already bounded here (and a stricter limit)."""
    limit = max_upload_bytes() if limit is None else limit
    if size > limit:
        raise FileTooLarge(limit)


class LimitedUploadHandler(FileUploadHandler):
    """Counts the file bytes of one request as they stream in; stops at the limit."""

    def __init__(self, request=None, limit: int | None = None):
        super().__init__(request)
        self.limit = max_upload_bytes() if limit is None else limit
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            raise FileTooLarge(self.limit)
        return raw_data  # the next handler (memory or temporary file) keeps it

    def file_complete(self, file_size):
        return None


def _refuse(request, exc: FileTooLarge):
    if request.path_info.startswith("/api/"):
        return JsonResponse({"error": exc.as_dict()}, status=exc.status_code)
    if hasattr(request, "_messages"):
        messages.error(request, exc.message)
    # 303: the browser comes back with a GET to the same page, which shows the message.
    response = HttpResponseRedirect(request.get_full_path())
    response.status_code = 303
    return response


class UploadLimitMiddleware:
    """Bounds every multipart body before anything reads it (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("POST", "PUT", "PATCH") and request.content_type == "multipart/form-data":
            limit = max_upload_bytes()
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            try:
                if declared > limit + FORM_ROOM:
                    raise FileTooLarge(limit)
                request.upload_handlers.insert(0, LimitedUploadHandler(request, limit))
                if not request.path_info.startswith("/api/"):
                    # Pages: parse now, before CSRF's check reads the form. The API parses
                    # later (after the idempotency digest); its handler answers the refusal.
                    request.POST  # noqa: B018
            except FileTooLarge as exc:
                return _refuse(request, exc)
        return self.get_response(request)


def read_file(path: str | Path, limit: int | None = None) -> bytes:
    """A file from disk for the CLI, refused (``file_too_large``) without reading past
    the limit. ``OSError`` is the caller's to report."""
    limit = max_upload_bytes() if limit is None else limit
    with open(path, "rb") as fh:
        content = fh.read(limit + 1)
    if len(content) > limit:
        raise FileTooLarge(limit)
    return content

"""``Idempotency-Key`` for the API's POST actions: a client's retry never acts twice.

A POST under ``/api/`` carrying the header runs inside one transaction together with
the record of its answer. The same key again (same user) replays the stored answer with
``Idempotent-Replayed: true``; the same key with a different method, path or body is
refused (422 ``idempotency_key_reused``). Two requests with the same key at once: the
second waits on the unique index until the first commits, then gets its answer. An
answer of 5xx is not stored (its transaction is rolled back), so a retry runs again.
Records expire after ``IDEMPOTENCY_TTL_HOURS`` (purged by ``purge_expired``).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from .models import ApiToken, IdempotencyRecord, hash_token

HEADER = "Idempotency-Key"
MAX_KEY = 200


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _owner(request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        token = ApiToken.objects.filter(key_hash=hash_token(auth[7:].strip()), revoked_at__isnull=True).values_list(
            "user_id", flat=True).first()
        return f"user:{token}" if token else None
    user = getattr(request, "user", None)
    return f"user:{user.pk}" if user is not None and user.is_authenticated else None


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.get_full_path().encode() + b"\n")
    digest.update(request.body)
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status_code, content_type=record.content_type)
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path_info.startswith("/api/"):
            return self.get_response(request)
        key = key.strip()
        if not key or len(key) > MAX_KEY:
            return _error(400, "idempotency_key_invalid",
                          f"Idempotency-Key deve ter de 1 a {MAX_KEY} caracteres.")
        owner = _owner(request)
        if owner is None:  # not authenticated: the API answers 401 by itself
            return self.get_response(request)
        fingerprint = _fingerprint(request)
        seen = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
        if seen is not None:
            return self._answer_seen(seen, fingerprint)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(owner=owner, key=key, fingerprint=fingerprint)
                response = self.get_response(request)
                if response.status_code >= 500 or getattr(response, "streaming", False):
                    raise _DoNotKeep(response)
                record.status_code = response.status_code
                record.content_type = response.get("Content-Type", "application/json")
                record.body = response.content
                record.save(update_fields=["status_code", "content_type", "body"])
                return response
        except _DoNotKeep as exc:
            return exc.response
        except IntegrityError:
            # a twin request committed first with the same key
            seen = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
            if seen is None:
                raise
            return self._answer_seen(seen, fingerprint)

    @staticmethod
    def _answer_seen(seen: IdempotencyRecord, fingerprint: str) -> HttpResponse:
        if seen.fingerprint != fingerprint:
            return _error(422, "idempotency_key_reused",
                          "Esta Idempotency-Key já foi usada com outra requisição (método, caminho ou corpo).")
        return _replay(seen)


class _DoNotKeep(Exception):
    def __init__(self, response):
        super().__init__("not kept")
        self.response = response


def purge_expired() -> dict:
    hours = getattr(settings, "IDEMPOTENCY_TTL_HOURS", 24)
    deleted = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - timedelta(hours=hours)).delete()[0]
    return {"deleted": deleted}

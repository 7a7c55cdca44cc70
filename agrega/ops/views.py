"""/healthz, /readyz and /metrics: thin views over ops.health and ops.metrics."""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from .health import liveness, readiness
from .metrics import render_metrics


@require_GET
def healthz(request):
    return JsonResponse(liveness())


@require_GET
def readyz(request):
    ready, body = readiness()
    return JsonResponse(body, status=200 if ready else 503)


@require_GET
def metrics(request):
    """Open on a private network by default; with AGREGA_METRICS_TOKEN set, Prometheus
    must send ``Authorization: Bearer <token>``."""
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return JsonResponse({"error": {"code": "unauthorized", "message": "Token de métricas inválido."}},
                                status=401)
    return HttpResponse(render_metrics(), content_type="text/plain; version=0.0.4; charset=utf-8")

"""/healthz, /readyz and /metrics: thin views over ops.health and ops.metrics."""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from agrega.core.net import is_internal

from .health import liveness, readiness
from .metrics import CONTENT_TYPE, render_metrics


@require_GET
def healthz(request):
    return JsonResponse(liveness())


@require_GET
def readyz(request):
    ready, body = readiness()
    return JsonResponse(body, status=200 if ready else 503)


@require_GET
def metrics(request):
    """Open to clients on AGREGA_INTERNAL_NETWORKS (loopback by default; the address a
    trusted proxy reports, core/net.py); anyone else must send ``Authorization: Bearer
    <AGREGA_METRICS_TOKEN>`` — and without a token set, is refused."""
    if not is_internal(request):
        token = settings.METRICS_TOKEN
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(sent.encode(), token.encode()):
            message = ("Token de métricas inválido." if token else
                       "Métricas só para a rede interna: configure AGREGA_METRICS_TOKEN para acesso externo.")
            return JsonResponse({"error": {"code": "unauthorized", "message": message}}, status=401)
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE)

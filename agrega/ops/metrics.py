"""Prometheus metrics, computed from the database at scrape time.

Every figure lives in the shared database (SVA users, platform calls, circuit state,
job runs), so any web process answers for the whole installation — several gunicorn
workers or machines need no shared in-memory registry: each scrape builds its families and
``prometheus_client`` writes them (text exposition format 0.0.4)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_KINDS = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily}


class Exposition:
    """The families of one scrape, written by ``prometheus_client`` (escaping, ``_total``,
    number format): we only compute the samples from the database."""

    def __init__(self):
        self.families: list[Metric] = []

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict, float]]) -> None:
        samples = list(samples)
        labels = list(samples[0][0]) if samples else []
        metric = _KINDS[kind](name, help_text, labels=labels)
        for sample_labels, value in samples:
            metric.add_metric([str(sample_labels[k]) for k in labels], float(value))
        self.families.append(metric)

    def collect(self):
        """The collector protocol of ``prometheus_client``: a registry of one scrape calls it."""
        return iter(self.families)

    def text(self) -> str:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return generate_latest(registry).decode()


def render_metrics() -> str:
    from agrega.billing.models import Invoice, InvoiceStatus
    from agrega.contracts.models import Contract
    from agrega.core.models import ScheduledJob
    from agrega.integrations.models import SvaIntegration
    from agrega.sva.models import SvaCall, SvaUser

    now = timezone.now()
    out = Exposition()
    integrations = {i.pk: i for i in SvaIntegration.objects.all()}

    def name_of(pk):
        return integrations[pk].name if pk in integrations else str(pk)

    live = SvaUser.objects.filter(deleted_at__isnull=True)
    out.family("agrega_sva_users", "gauge", "SVA users by integration and state confirmed on the platform.", (
        ({"integration": name_of(r["integration_id"]), "state": r["confirmed_state"] or "none"}, r["n"])
        for r in live.values("integration_id", "confirmed_state").annotate(n=Count("id")).order_by()
    ))
    # the worker's queue (sva/pending.py) is what is pending
    pending = SvaUser.objects.filter(pending_work__isnull=False)
    waiting = []
    for kind, qs in (("sync", pending.filter(registration_problems=[])),
                     ("registration", pending.exclude(registration_problems=[]))):
        waiting += [({"integration": name_of(r["integration_id"]), "waiting": kind}, r["n"])
                    for r in qs.values("integration_id").annotate(n=Count("id")).order_by()]
    out.family("agrega_sva_users_pending", "gauge",
               "SVA users whose desired state is not yet confirmed (waiting for the worker, or for "
               "the customer's registration data).", waiting)
    lag = []
    for r in pending.filter(registration_problems=[]).values("integration_id").annotate(
            oldest=Min("pending_work__queued_at")).order_by():
        since = r["oldest"]
        lag.append(({"integration": name_of(r["integration_id"])}, (now - since).total_seconds() if since else 0))
    out.family("agrega_sva_convergence_lag_seconds", "gauge",
               "Age of the oldest unconfirmed change per integration (0 when converged).",
               lag or [({"integration": i.name}, 0) for i in integrations.values()])
    calls = (SvaCall.objects.values("sva_user__integration_id", "operation", "status_code", "error_code")
             .annotate(n=Count("id")).order_by())
    out.family("agrega_platform_calls_total", "counter", "Platform calls by integration, operation and outcome.", (
        ({"integration": name_of(r["sva_user__integration_id"]), "operation": r["operation"],
          "status": r["status_code"] or "none", "error": r["error_code"] or ""}, r["n"]) for r in calls
    ))
    out.family("agrega_circuit_open", "gauge", "1 while the integration's circuit breaker is open.", (
        ({"integration": i.name}, 1 if i.circuit_open_until and i.circuit_open_until > now else 0)
        for i in integrations.values()
    ))
    out.family("agrega_integration_consecutive_failures", "gauge", "Consecutive platform failures.", (
        ({"integration": i.name}, i.consecutive_failures) for i in integrations.values()
    ))
    jobs = list(ScheduledJob.objects.all())
    out.family("agrega_job_last_duration_seconds", "gauge", "Duration of the job's last run.", (
        ({"job": j.name}, (j.last_duration_ms or 0) / 1000) for j in jobs))
    out.family("agrega_job_last_success", "gauge", "1 if the job's last run succeeded, 0 if it failed.", (
        ({"job": j.name}, 1 if j.last_ok else 0) for j in jobs if j.last_ok is not None))
    out.family("agrega_job_runs_total", "counter", "Runs of the job.", (({"job": j.name}, j.runs) for j in jobs))
    out.family("agrega_contracts", "gauge", "Contracts by status and access status.", (
        ({"status": r["status"], "access_status": r["access_status"]}, r["n"])
        for r in Contract.objects.values("status", "access_status").annotate(n=Count("id")).order_by()
    ))
    today = timezone.localdate()
    out.family("agrega_invoices_overdue", "gauge", "Open títulos past their due date.", [
        ({}, Invoice.objects.filter(status=InvoiceStatus.OPEN, due_date__lt=today).count())])
    return out.text()

"""The SVA app's background task (django-tasks; agrega/core/tasks.py): a reconciliation
asked for from the page or the API. The request checks what would refuse it
(``reconcile.reconcile_check``), enqueues this task and answers at once; the task
worker lists the platform and acts. The hourly reconciliation and the removal of
cancelled contracts' users are periodic jobs (settings.PERIODIC_JOBS), run as tasks too.

Killed mid-way, the task runs again: the killed run's lease expires and it is marked
interrupted (``reconcile._start``), and a new run compares everything again — every
action it takes is idempotent (mark for sync, report, remove what is still unknown)."""

from __future__ import annotations

from django.urls import reverse
from django_tasks import task

from agrega.core.errors import ApplicationError
from agrega.core.tasks import actor_of, actor_id, again_later, links_to
from agrega.integrations.models import SvaIntegration

from .reconcile import services as reconcile


def queue_reconciliation(integration: SvaIntegration, *, runner: str, actor=None, remove_unknown: bool | None = None,
                         page_size: int = reconcile.DEFAULT_PAGE_SIZE):
    """Refuse now what the run would refuse, else enqueue it; returns the task result."""
    integration = reconcile.reconcile_check(integration)
    return run_reconciliation.enqueue(integration_id=integration.pk, runner=runner, actor_id=actor_id(actor),
                                      remove_unknown=remove_unknown, page_size=page_size)


@task()
def run_reconciliation(integration_id: int, runner: str, actor_id: int | None = None,
                       remove_unknown: bool | None = None, page_size: int = reconcile.DEFAULT_PAGE_SIZE) -> dict:
    integration = SvaIntegration.objects.filter(pk=integration_id).first()
    if integration is None:
        return {"integration_id": integration_id, "refused": "integration_not_found"}
    try:
        run = reconcile.reconcile_integration(integration, runner=runner, actor=actor_of(actor_id),
                                              remove_unknown=remove_unknown, page_size=page_size)
    except ApplicationError as exc:
        if exc.code == "reconcile_running" and (exc.extra or {}).get("running_run_id"):
            # a run whose worker died still holds the lock until its lease expires
            again_later(run_reconciliation, seconds=reconcile.LEASE_SECONDS, integration_id=integration_id,
                        runner=runner, actor_id=actor_id, remove_unknown=remove_unknown, page_size=page_size)
            return {"integration_id": integration_id, "deferred": exc.code}
        return {"integration_id": integration_id, "refused": exc.code, "message": exc.message}
    return {"integration_id": integration_id, "run_id": run.pk, "status": run.status,
            "differences": run.counts.get("differences", 0)}


def _link(kwargs: dict, result: dict | None):
    integration_id = kwargs["integration_id"]
    if result and result.get("run_id"):
        return (f"Reconciliação {result['run_id']}",
                reverse("reconcile:detail", args=[integration_id, result["run_id"]]))
    return f"Reconciliações da integração {integration_id}", reverse("reconcile:list", args=[integration_id])


links_to(run_reconciliation, _link)

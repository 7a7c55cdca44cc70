"""The billing run as a background task (django-tasks; agrega/core/tasks.py).

The page and the API create the run's row and enqueue this task in one transaction
(``services.billing_run_queue``) and answer at once (202, with a link to the task); the
task worker bills. The row keeps the progress: each chunk of contracts adds its counts
in its own transaction. Killed mid-way, the task is run again and continues —
``(contract, period)`` is unique and contracts already billed are skipped — so nothing
is billed twice or left out. The daily run (``billing.jobs``) is a periodic job, run as
a task too."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django_tasks import task

from agrega.core.tasks import links_to

from . import services


@task()
def run_billing(run_id: int) -> dict:
    """Bill the queued run (or finish it, run again after its worker died)."""
    run = services.billing_run_resume(run_id=run_id, chunk_size=settings.BILLING_RUN_CHUNK)
    return {"billing_run": run.pk, "period": f"{run.period:%Y-%m}", "contracts": run.contracts_seen,
            "invoices": run.invoices_created, "lines": run.lines_created, "total": str(run.total_amount)}


links_to(run_billing, lambda kwargs, result: (f"Faturamento {kwargs['run_id']}",
                                      reverse("billing:run_detail", args=[kwargs["run_id"]])))

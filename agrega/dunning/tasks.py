"""The dunning app's background task (django-tasks; agrega/core/tasks.py): the sweep an
operator asks for on the page (Régua de cobrança > Aplicar agora) or through the API
(``POST /api/dunning-sweeps``). The request checks the date (``services.sweep_check``),
enqueues this task and answers at once (202 and the task's link): a sweep moves up to
every overdue contract, which is no work for an HTTP request. The daily sweep and the
expiry of trust releases are periodic jobs (settings.PERIODIC_JOBS), run as tasks too.

Killed mid-way, the task runs again and finishes: each group of contracts is written by
one statement that re-checks the state it was computed from (``transition_many``), so
the contracts the killed run moved are not moved twice, and the record of who asked is
written once, at the end."""

from __future__ import annotations

from datetime import date

from django.urls import reverse
from django_tasks import task

from agrega.core.errors import ApplicationError
from agrega.core.tasks import actor_id, actor_of, links_to

from . import services


def queue_sweep(*, today: date | None = None, actor=None):
    """Refuse now what the sweep would refuse, else enqueue it; returns the task result."""
    day = services.sweep_check(today=today)
    return run_sweep.enqueue(today=day.isoformat(), actor_id=actor_id(actor))


@task()
def run_sweep(today: str, actor_id: int | None = None) -> dict:
    """Apply the régua for ``today`` (ISO date) as the user ``actor_id`` asked."""
    try:
        result = services.sweep_run(today=date.fromisoformat(today), actor=actor_of(actor_id))
    except ApplicationError as exc:  # e.g. a later sweep ran between the request and now
        return {"today": today, "refused": exc.code, "message": exc.message}
    return result.as_dict()


links_to(run_sweep, lambda kwargs, result: (f"Régua de cobrança aplicada em {kwargs['today']}",
                                            reverse("dunning:list")))

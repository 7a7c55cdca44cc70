"""The imports' background tasks (django-tasks; agrega/core/tasks.py): the dry run and the
import of a stored job. The pages and the API enqueue them; ``agrega worker`` runs them.

Both resume: the job keeps its progress (``next_index``, counts) and its own runner lease,
so a task run again after its worker died continues from the last committed batch
(docs/imports.md). A job still held by a runner whose lease has not expired yet is tried
again when it will have."""

from __future__ import annotations

from django.urls import reverse
from django_tasks import task

from agrega.core.errors import ApplicationError
from agrega.core.tasks import actor_of, again_later, links_to

from . import services
from .models import ImportJob, ImportStatus


@task()
def validate_import(job_id: int) -> dict:
    """The dry run of a stored import (writes nothing but the job's report)."""
    try:
        job = services.import_job_validate(job_id=job_id)
    except ApplicationError as exc:
        held = ImportJob.objects.filter(pk=job_id, status=ImportStatus.VALIDATING).exists()
        if exc.code == "import_not_validatable" and held:  # a dead runner's lease has not expired yet
            again_later(validate_import, seconds=services.LEASE_SECONDS, job_id=job_id)
            return {"import": job_id, "deferred": exc.code}
        return {"import": job_id, "refused": exc.code, "message": exc.message}
    return {"import": job.pk, "status": job.status}


@task()
def run_import(job_id: int, actor_id: int | None = None) -> dict:
    """Import the job's lines from where it stopped until it is done or paused."""
    try:
        job = services.import_job_run(job_id=job_id, actor=actor_of(actor_id))
    except ApplicationError as exc:
        if exc.code == "import_running":  # held under a lease not expired yet
            again_later(run_import, seconds=services.LEASE_SECONDS, job_id=job_id, actor_id=actor_id)
            return {"import": job_id, "deferred": exc.code}
        return {"import": job_id, "refused": exc.code, "message": exc.message}
    return {"import": job.pk, "status": job.status, "applied": job.applied, "rejected": job.rejected}


def _link(kwargs: dict, result):
    return f"Importação {kwargs['job_id']}", reverse("imports:detail", args=[kwargs["job_id"]])


links_to(validate_import, _link)
links_to(run_import, _link)

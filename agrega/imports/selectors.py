"""Reads for imports: the jobs, the outcome of each line, the dry-run report."""

from __future__ import annotations

from django.db.models import QuerySet

from .filtersets import LIST_FIELDS, ImportJobFilterSet, ImportRowFilterSet
from .models import ImportJob, ImportRow


def import_job_list(*, status: str | None = None) -> QuerySet[ImportJob]:
    """Newest first, without the dry-run report (it can be large): ``ImportJobFilterSet``."""
    return ImportJobFilterSet.filtered({"status": status or None})


def import_job_get(pk: int) -> ImportJob | None:
    return ImportJob.objects.filter(pk=pk).first()


def import_job_progress(pk: int) -> ImportJob | None:
    """The job without its report, for the progress poll."""
    return ImportJob.objects.defer(*LIST_FIELDS).filter(pk=pk).first()


def import_row_list(*, job_id: int, status: str | None = None, problems_only: bool = False) -> QuerySet[ImportRow]:
    """The lines of a job as ``ImportRowFilterSet`` filters them; ``problems_only`` (when
    no status is asked): the lines with messages."""
    filterset = ImportRowFilterSet(job_id=job_id, problems_only=problems_only)
    return filterset.apply(filterset.base(), {"status": status} if status else {})


def report_lines(job: ImportJob, *, status: str | None = None) -> list[dict]:
    lines = (job.report or {}).get("lines", [])
    return [line for line in lines if not status or line["status"] == status]

"""Reads for imports: the jobs, the outcome of each line, the dry-run report."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ImportJob, ImportRow

LIST_FIELDS = ("report",)


def import_job_list(*, status: str | None = None) -> QuerySet[ImportJob]:
    """Newest first, without the dry-run report (it can be large)."""
    qs = ImportJob.objects.defer(*LIST_FIELDS).select_related("created_by")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-pk")


def import_job_get(pk: int) -> ImportJob | None:
    return ImportJob.objects.filter(pk=pk).first()


def import_job_progress(pk: int) -> ImportJob | None:
    """The job without its report, for the progress poll."""
    return ImportJob.objects.defer(*LIST_FIELDS).filter(pk=pk).first()


def import_row_list(*, job_id: int, status: str | None = None, problems_only: bool = False) -> QuerySet[ImportRow]:
    qs = ImportRow.objects.filter(job_id=job_id)
    if status:
        qs = qs.filter(status=status)
    if problems_only:
        qs = qs.exclude(messages=[])
    return qs.order_by("index")


def report_lines(job: ImportJob, *, status: str | None = None) -> list[dict]:
    lines = (job.report or {}).get("lines", [])
    return [line for line in lines if not status or line["status"] == status]

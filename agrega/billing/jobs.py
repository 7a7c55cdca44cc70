"""Periodic billing job (settings.PERIODIC_JOBS): bill the current month every day.

Running it daily is cheap (contracts already billed for the period are skipped) and
catches contracts activated since the last run."""

from django.utils import timezone

from .services import billing_run


def run_current_period() -> dict:
    run = billing_run(period=timezone.localdate().replace(day=1), actor="tarefa periódica")
    return {"period": run.period.isoformat(), "contracts": run.contracts_seen,
            "invoices": run.invoices_created, "total": str(run.total_amount)}

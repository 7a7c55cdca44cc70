"""Periodic billing job (settings.PERIODIC_JOBS): bill the current month every day.

Running it daily is cheap (contracts already billed for the period are skipped) and
catches contracts activated since the last run — including those activated after the
last run of a month that has since ended, and months an outage of the job skipped
(``billing_catch_up``)."""

from .services import billing_catch_up


def run_current_period(now=None) -> dict:
    runs = billing_catch_up(now=now, actor="tarefa periódica")
    run = runs[-1]
    return {"period": run.period.isoformat(), "contracts": run.contracts_seen,
            "invoices": run.invoices_created, "total": str(run.total_amount),
            "caught_up": [{"period": r.period.isoformat(), "invoices": r.invoices_created} for r in runs[:-1]]}

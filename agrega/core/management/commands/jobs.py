"""``agrega jobs …``: the periodic jobs (faturamento, régua de cobrança, …).

``agrega worker``'s task process already enqueues them when due (agrega/core/jobs.py);
these subcommands list them, enqueue one now (``enqueue``) or every due one
(``enqueue-due``, for cron), or run one (``run``) or every due one (``run-due``) in this
process, without a task worker.
"""

from __future__ import annotations

from agrega.core.errors import ApplicationError
from agrega.core.jobs import enqueue_due_jobs, enqueue_job, ensure_jobs, job_specs, run_due_jobs, run_job
from agrega.core.management.base import AgregaCommand, fmt_datetime, table
from agrega.core.models import ScheduledJob


def job_data(job: ScheduledJob) -> dict:
    return {"name": job.name, "next_run_at": job.next_run_at, "runs": job.runs, "last_ok": job.last_ok,
            "last_started_at": job.last_started_at, "last_duration_ms": job.last_duration_ms,
            "last_result": job.last_result, "last_error": job.last_error, "locked_by": job.locked_by}


class Command(AgregaCommand):
    help = "Tarefas periódicas: listar, rodar uma agora, rodar as pendentes."

    def add_subcommands(self, sub):
        self.subcommand(sub, "list", self.list, help="lista as tarefas e o último resultado")
        run = self.subcommand(sub, "run", self.run, help="roda uma tarefa agora (mesmo fora do horário)")
        run.add_argument("name", choices=sorted(job_specs()))
        self.subcommand(sub, "run-due", self.run_due, help="roda as tarefas vencidas e sai")
        enqueue = self.subcommand(sub, "enqueue", self.enqueue,
                                  help="enfileira uma tarefa agora para o worker de tarefas")
        enqueue.add_argument("name", choices=sorted(job_specs()))
        self.subcommand(sub, "enqueue-due", self.enqueue_due, help="enfileira as tarefas vencidas e sai")

    def list(self, **_):
        ensure_jobs()
        jobs = list(ScheduledJob.objects.filter(name__in=list(job_specs())))
        status = {True: "ok", False: "falhou", None: "—"}
        self.emit([job_data(j) for j in jobs], lambda: table(
            ["TAREFA", "PRÓXIMA", "EXECUÇÕES", "ÚLTIMA", "RESULTADO"],
            [[j.name, fmt_datetime(j.next_run_at), str(j.runs), fmt_datetime(j.last_started_at),
              status[j.last_ok] + (f" ({j.last_error})" if j.last_error else "")] for j in jobs]))

    def run(self, *, name, **_):
        job = run_job(name, force=True)
        if job is None:
            raise ApplicationError("job_busy", f"A tarefa {name} está rodando em outro processo.", status_code=409)
        self.emit(job_data(job), [f"{job.name}: {'ok' if job.last_ok else 'falhou'} em "
                                  f"{job.last_duration_ms:.0f} ms", f"resultado: {job.last_result or job.last_error}"])
        if not job.last_ok:
            raise SystemExit(1)

    def run_due(self, **_):
        names = run_due_jobs()
        self.emit({"ran": names}, [f"rodou: {', '.join(names) if names else 'nenhuma tarefa vencida'}"])

    def enqueue(self, *, name, **_):
        result = enqueue_job(name, force=True)
        if result is None:
            raise ApplicationError("job_busy", f"A tarefa {name} já está na fila ou rodando.", status_code=409)
        self.emit({"name": name, "task_id": str(result.id)},
                  [f"{name}: enfileirada (tarefa {result.id}; acompanhe com `agrega tasks show {result.id}`)"])

    def enqueue_due(self, **_):
        names = enqueue_due_jobs()
        self.emit({"enqueued": names}, [f"enfileirou: {', '.join(names) if names else 'nenhuma tarefa vencida'}"])

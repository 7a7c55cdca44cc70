"""``agrega tasks …``: the background tasks (django-tasks, agrega/core/tasks.py).

``worker`` runs the task worker (``agrega worker`` starts one beside the SVA loop);
``list``/``show`` follow what pages and the API enqueued; ``run-ready`` runs what is
queued now in this process and exits.
"""

from __future__ import annotations

from agrega.core.errors import NotFound
from agrega.core.management.base import AgregaCommand, fmt_datetime, positive_int, table
from agrega.core.tasks import TaskWorker, run_ready_tasks, task_data, task_get, task_list


class Command(AgregaCommand):
    help = "Tarefas em segundo plano: listar, ver uma, rodar o worker de tarefas."

    def add_subcommands(self, sub):
        listing = self.subcommand(sub, "list", self.list, help="as tarefas mais recentes")
        listing.add_argument("--limit", type=positive_int, default=20)
        show = self.subcommand(sub, "show", self.show, help="uma tarefa: situação, resultado, onde acompanhar")
        show.add_argument("task_id")
        worker = self.subcommand(sub, "worker", self.worker,
                                 help="roda o worker de tarefas (até SIGTERM/Ctrl+C)")
        worker.add_argument("--no-scheduler", action="store_true",
                            help="não enfileirar as tarefas periódicas neste processo")
        self.subcommand(sub, "run-ready", self.run_ready, help="roda as tarefas na fila agora e sai")

    def list(self, *, limit, **_):
        rows = [task_data(r) for r in task_list(limit=limit)]
        self.emit(rows, lambda: table(
            ["ID", "TAREFA", "SITUAÇÃO", "ENFILEIRADA", "TENTATIVAS", "SOBRE"],
            [[r["id"], r["name"], r["status_label"], fmt_datetime(r["enqueued_at"]), str(r["attempts"]),
              r["link_label"]] for r in rows]))

    def show(self, *, task_id, **_):
        row = task_get(task_id)
        if row is None:
            raise NotFound("Tarefa", "task_not_found")
        data = task_data(row)
        self.emit(data, [f"tarefa {data['id']} ({data['name']}): {data['status_label']}",
                         f"enfileirada {fmt_datetime(data['enqueued_at'])}, tentativas {data['attempts']}",
                         *([f"sobre: {data['link_label']} ({data['link_url']})"] if data["link_label"] else []),
                         *([f"resultado: {data['result']}"] if data["result"] is not None else []),
                         *([f"erro: {data['error']}"] if data["error"] else [])])

    def worker(self, *, no_scheduler=False, **_):
        import logging

        logging.getLogger("django_tasks_db").setLevel(logging.INFO)
        worker = TaskWorker(scheduler=not no_scheduler)
        worker.configure_signals()
        worker.run()

    def run_ready(self, **_):
        ran = run_ready_tasks()
        self.emit({"ran": ran}, [f"{ran} tarefa(s) executada(s)"])

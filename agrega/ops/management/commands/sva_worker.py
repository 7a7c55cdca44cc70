from agrega.core.management.base import PortugueseCommand

from agrega.ops.worker import run_worker


class Command(PortugueseCommand):
    help = ("Roda o worker SVA (converge os usuários SVA com as plataformas) e, num segundo processo, o worker "
            "de tarefas (importações, campanhas, faturamento, régua…) até SIGTERM/Ctrl+C.")

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=None, help="chamadas simultâneas à plataforma")
        parser.add_argument("--no-jobs", action="store_true",
                            help="não enfileirar as tarefas periódicas (faturamento, régua…) nesta máquina")
        parser.add_argument("--no-tasks", action="store_true",
                            help="não iniciar o worker de tarefas (rode `agrega tasks worker` à parte)")

    def handle(self, *args, concurrency=None, no_jobs=False, no_tasks=False, **options):
        run_worker(concurrency=concurrency, jobs=not no_jobs, tasks=not no_tasks)

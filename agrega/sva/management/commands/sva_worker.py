from django.core.management.base import BaseCommand

from agrega.sva.controller.worker import run_worker


class Command(BaseCommand):
    help = "Roda o worker SVA: converge os usuários SVA com as plataformas (até SIGTERM/Ctrl+C)."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=None, help="chamadas simultâneas à plataforma")
        parser.add_argument("--no-jobs", action="store_true",
                            help="não rodar as tarefas periódicas (faturamento, régua…) neste processo")

    def handle(self, *args, concurrency=None, no_jobs=False, **options):
        run_worker(concurrency=concurrency, jobs=not no_jobs)

from django.core.management.base import BaseCommand

from agrega.sva.controller.worker import run_worker


class Command(BaseCommand):
    help = "Roda o worker SVA: converge os usuários SVA com as plataformas (até SIGTERM/Ctrl+C)."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=None, help="chamadas simultâneas à plataforma")

    def handle(self, *args, concurrency=None, **options):
        run_worker(concurrency=concurrency)

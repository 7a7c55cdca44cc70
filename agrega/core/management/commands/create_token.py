from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agrega.core.models import ApiToken


class Command(BaseCommand):
    help = "Cria um token de API para um usuário e o mostra (uma única vez)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"Usuário '{username}' não existe.")
        _, raw = ApiToken.issue(user=user, name=name)
        self.stdout.write(raw)

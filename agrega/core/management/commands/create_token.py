from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from agrega.core.errors import ApplicationError
from agrega.core.management.base import PortugueseCommand
from agrega.core.services import api_token_create


class Command(PortugueseCommand):
    help = "Cria um token de API para um usuário e o mostra (uma única vez)."

    def add_arguments(self, parser):
        parser.add_argument("username", metavar="USUARIO", help="login (username) do dono do token")
        parser.add_argument("--name", default="cli", metavar="NOME",
                            help='nome do token, para reconhecê-lo na lista (padrão: "cli")')

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"Usuário '{username}' não existe.")
        try:  # the same rules as the API and the page (name cleaned and bounded)
            _, raw = api_token_create(user=user, name=name)
        except ApplicationError as exc:
            raise CommandError(" ".join(e.message for errs in exc.fields.values() for e in errs) or exc.message)
        self.stdout.write(raw)

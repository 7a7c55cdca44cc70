"""``agrega generate-keys``: new AGREGA_SECRET_KEY and AGREGA_CREDENTIALS_KEY, as lines
for an environment file. Runs without the keys set (that is when it is needed)."""

from agrega.core.management.base import PortugueseCommand

from agrega.core.keys import new_credentials_key, new_secret_key


class Command(PortugueseCommand):
    help = "Gera AGREGA_SECRET_KEY e AGREGA_CREDENTIALS_KEY novas (linhas para um arquivo de ambiente)."
    requires_system_checks = []

    def handle(self, *args, **options):
        self.stdout.write(f"AGREGA_SECRET_KEY={new_secret_key()}")
        self.stdout.write(f"AGREGA_CREDENTIALS_KEY={new_credentials_key()}")

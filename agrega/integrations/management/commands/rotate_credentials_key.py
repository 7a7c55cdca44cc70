"""``agrega rotate_credentials_key``: re-encrypt every integration's credentials with the
first key of AGREGA_CREDENTIALS_KEY (docs/operations.md, "Rotating the credentials key").

Run it after putting the new key first ("NEW,OLD") on every process; when it reports
all rows re-encrypted, drop OLD from the variable. ``--generate`` prints a new key."""

from django.db import transaction

from agrega.core import crypto
from agrega.core.management.base import PortugueseCommand
from agrega.integrations.models import SvaIntegration


class Command(PortugueseCommand):
    help = "Recifra as credenciais das integrações com a primeira chave de AGREGA_CREDENTIALS_KEY."

    def add_arguments(self, parser):
        parser.add_argument("--generate", action="store_true", help="só mostra uma chave nova e sai")

    def handle(self, *args, generate=False, **options):
        if generate:
            from cryptography.fernet import Fernet

            self.stdout.write(Fernet.generate_key().decode())
            return
        count = 0
        with transaction.atomic():
            for integration in SvaIntegration.objects.select_for_update().exclude(credentials_encrypted=""):
                try:
                    token = crypto.reencrypt(integration.credentials_encrypted)
                except Exception as exc:  # a key missing from the list: stop, change nothing
                    raise SystemExit(f"erro [credentials_key_missing]: integração {integration.pk}: não foi "
                                     f"possível decifrar com as chaves configuradas ({type(exc).__name__}). "
                                     "Nada foi alterado.") from None
                SvaIntegration.objects.filter(pk=integration.pk).update(credentials_encrypted=token)
                count += 1
        self.stdout.write(f"{count} integração(ões) recifrada(s) com a chave nova. "
                          "Agora remova a chave antiga de AGREGA_CREDENTIALS_KEY.")

"""``agrega integration create|update|check|packages|list|show``: integrações SVA.

Credentials are write-only: no subcommand ever prints them.
"""

from __future__ import annotations

import os

from django.utils import timezone

from agrega.core.errors import NotFound
from agrega.core.management.base import (
    EXIT_PLATFORM,
    AgregaCommand,
    fmt_bool,
    fmt_datetime,
    key_values,
    table,
    yes_no,
)
from agrega.integrations.connectors.base import CredentialField
from agrega.integrations.connectors.registry import PLATFORMS, connector_class, default_platform
from agrega.integrations.filtersets import IntegrationFilterSet
from agrega.integrations.models import SvaIntegration
from agrega.integrations.services import (
    integration_check_credentials,
    integration_create,
    integration_list_packages,
    integration_update,
)

def declared_fields() -> list[CredentialField]:
    """Every credential field any connector declares, once each (by name): the CLI
    options are built from the declarations, so a new platform brings its own."""
    seen: dict[str, CredentialField] = {}
    for platform in PLATFORMS:
        for field in connector_class(platform).credential_fields:
            seen.setdefault(field.name, field)
    return list(seen.values())


def _platform_lines() -> str:
    lines = []
    for platform in PLATFORMS:
        fields = connector_class(platform).credential_fields
        names = ", ".join(f.option + ("" if f.required else " (opcional)") for f in fields)
        lines.append(f"  {platform}: {names}")
    return "\n".join(lines)


def _credentials_help() -> str:
    secrets = sorted({f.env for f in declared_fields() if f.secret})
    return (
        "credenciais (por plataforma):\n" + _platform_lines() + "\n"
        "  Para que um segredo não fique no histórico do shell, omita a opção e exporte-o\n"
        f"  na variável de ambiente correspondente ({', '.join(secrets)}); qualquer campo\n"
        "  pode vir de AGREGA_<NOME>. A opção, quando informada, prevalece sobre a variável.\n"
        "  As credenciais são guardadas criptografadas e nunca são exibidas.\n"
    )


CREDENTIALS_HELP = _credentials_help()

UPDATE_CREDENTIALS_HELP = (
    CREDENTIALS_HELP
    + """\
  Na alteração, as credenciais só são trocadas quando alguma delas é informada (opção
  ou variável de um segredo); os campos não secretos omitidos são mantidos.
"""
)


def integration_data(integration: SvaIntegration) -> dict:
    now = timezone.now()
    circuit_open = bool(integration.circuit_open_until and integration.circuit_open_until > now)
    return {
        "id": integration.pk,
        "name": integration.name,
        "platform": integration.platform,
        "base_url": integration.base_url,
        "prefix": integration.prefix,
        "auto_create_users": integration.auto_create_users,
        "active": integration.active,
        "timeout_seconds": integration.timeout_seconds,
        "rate_limit_rps": integration.rate_limit_rps,
        "credentials_set": bool(integration.credentials_encrypted),
        "circuit_open": circuit_open,
        "circuit_open_until": integration.circuit_open_until,
        "consecutive_failures": integration.consecutive_failures,
        "last_error_code": integration.last_error_code,
        "last_error_message": integration.last_error_message,
        "last_error_at": integration.last_error_at,
        "last_success_at": integration.last_success_at,
        "created_at": integration.created_at,
        "updated_at": integration.updated_at,
    }


def integration_lines(integration: SvaIntegration) -> list[str]:
    data = integration_data(integration)
    last_error = (
        f"[{integration.last_error_code}] {integration.last_error_message} "
        f"({fmt_datetime(integration.last_error_at)})"
        if integration.last_error_code
        else ""
    )
    circuit = (
        f"aberto até {fmt_datetime(integration.circuit_open_until)} (chamadas suspensas)"
        if data["circuit_open"]
        else "fechado"
    )
    return [
        f"Integração SVA {integration.pk} — {integration.name}",
        *key_values(
            [
                ("Plataforma", integration.platform.upper()),
                ("URL", integration.base_url),
                ("Seu prefixo", integration.prefix),
                ("Permite criar usuários automaticamente", fmt_bool(integration.auto_create_users)),
                ("Ativa", fmt_bool(integration.active)),
                ("Tempo limite", f"{integration.timeout_seconds:g} s"),
                ("Limite de requisições", f"{integration.rate_limit_rps:g}/s" if integration.rate_limit_rps
                 else "sem limite"),
                (
                    "Credenciais",
                    "configuradas (nunca exibidas)"
                    if data["credentials_set"]
                    else "não configuradas",
                ),
                ("Circuito", circuit),
                ("Falhas seguidas", integration.consecutive_failures),
                ("Último sucesso", fmt_datetime(integration.last_success_at)),
                ("Último erro", last_error),
            ]
        ),
    ]


def get_integration(pk: int) -> SvaIntegration:
    integration = SvaIntegration.objects.filter(pk=pk).first()
    if integration is None:
        raise NotFound("Integração SVA", "integration_not_found")
    return integration


class Command(AgregaCommand):
    help = "Integrações SVA: cadastra, altera, testa a conexão, lista pacotes."

    def add_subcommands(self, sub):
        create = self.subcommand(
            sub,
            "create",
            self.cmd_create,
            help="Cadastra uma integração SVA.",
            epilog=CREDENTIALS_HELP,
        )
        self._options(create, creating=True)
        self.add_actor(create)
        update = self.subcommand(
            sub,
            "update",
            self.cmd_update,
            help="Altera uma integração SVA (só os campos informados).",
            epilog=UPDATE_CREDENTIALS_HELP,
        )
        update.add_argument("id", type=int, help="ID da integração")
        self._options(update, creating=False)
        self.add_actor(update)
        check = self.subcommand(
            sub,
            "check",
            self.cmd_check,
            help="Testa a conexão e as credenciais na plataforma "
            "(saída 0: ok; 3: a plataforma recusou ou não respondeu).",
        )
        check.add_argument("id", type=int, help="ID da integração")
        packages = self.subcommand(
            sub,
            "packages",
            self.cmd_packages,
            help="Lista os pacotes SVA do catálogo da plataforma.",
        )
        packages.add_argument("id", type=int, help="ID da integração")
        listing = self.subcommand(sub, "list", self.cmd_list, help="Lista as integrações SVA.")
        IntegrationFilterSet.add_arguments(listing)  # the same filters as the page and the API
        show = self.subcommand(
            sub, "show", self.cmd_show, help="Mostra uma integração (sem as credenciais)."
        )
        show.add_argument("id", type=int, help="ID da integração")

    @staticmethod
    def _options(parser, *, creating: bool):
        parser.add_argument("--name", metavar="NOME", help="nome da integração")
        default = default_platform()
        parser.add_argument(
            "--platform",
            metavar="PLATAFORMA",
            default=default if creating else None,
            help=f"plataforma SVA ({', '.join(PLATFORMS)})" + (f"; padrão: {default}" if creating else ""),
        )
        parser.add_argument(
            "--url", dest="base_url", metavar="URL", help="URL da API da plataforma"
        )
        parser.add_argument("--prefix", metavar="PREFIXO", help="seu prefixo na plataforma")
        for field in declared_fields():
            parser.add_argument(
                field.option, dest="cred_" + field.name, metavar="SEGREDO" if field.secret else "VALOR",
                help=f"{field.label} (prefira {field.env})" if field.secret else f"{field.label} (ou {field.env})",
            )
        parser.add_argument(
            "--auto-create",
            dest="auto_create_users",
            type=yes_no,
            metavar="sim|nao",
            help="permite criar usuários automaticamente" + ("; padrão: nao" if creating else ""),
        )
        parser.add_argument(
            "--timeout",
            dest="timeout_seconds",
            type=float,
            metavar="SEGUNDOS",
            help="tempo limite das chamadas (0,5 a 120 s)",
        )
        parser.add_argument(
            "--rate-limit",
            dest="rate_limit_rps",
            type=float,
            metavar="REQ_POR_S",
            help="limite de requisições por segundo da plataforma; o worker espaça as chamadas (0: sem limite)",
        )
        state = parser.add_mutually_exclusive_group()
        state.add_argument(
            "--inactive",
            dest="active",
            action="store_const",
            const=False,
            help="integração inativa (não cria nem sincroniza usuários)",
        )
        if not creating:
            state.add_argument(
                "--active",
                dest="active",
                action="store_const",
                const=True,
                help="reativa a integração",
            )

    @staticmethod
    def _credentials(options: dict, integration: SvaIntegration | None = None) -> dict | None:
        """The credentials to write, from the options or the environment (the platform's
        declared fields); None on an update that gives none (the current ones stay)."""
        platform = options.get("platform") or (integration.platform if integration else default_platform())
        try:
            fields = connector_class(platform).credential_fields
        except LookupError:
            fields = ()
        typed = {f.name: options.get("cred_" + f.name) or None for f in fields}
        from_env = {f.name: os.environ.get(f.env) or None for f in fields}
        if integration is not None and not any(typed.values()) \
                and not any(from_env[f.name] for f in fields if f.secret):
            return None
        stored = integration.credentials if integration is not None else {}
        values = {}
        for f in fields:
            value = typed[f.name] or from_env[f.name]
            if value is None and not f.secret:
                value = stored.get(f.name)  # a non-secret field omitted on update is kept
            if value is not None or f.required:
                values[f.name] = value
        return values

    FIELDS = (
        "name",
        "platform",
        "base_url",
        "prefix",
        "auto_create_users",
        "active",
        "timeout_seconds",
        "rate_limit_rps",
    )

    def cmd_create(self, **options):
        integration = integration_create(
            credentials=self._credentials(options), actor=self.actor(options.get("as_user")), **self.given(options, self.FIELDS)
        )
        self.emit(
            integration_data(integration),
            lambda: ["Integração SVA criada.", *integration_lines(integration)],
        )

    def cmd_update(self, *, id, **options):
        integration = get_integration(id)
        credentials = self._credentials(options, integration)
        integration = integration_update(
            integration=integration, credentials=credentials, actor=self.actor(options.get("as_user")), **self.given(options, self.FIELDS)
        )
        self.emit(
            integration_data(integration),
            lambda: ["Integração SVA alterada.", *integration_lines(integration)],
        )

    def cmd_check(self, *, id, **options):
        result = integration_check_credentials(integration=get_integration(id))
        if self.json_mode:
            self.emit_json(result)
        elif result["ok"]:
            self.stdout.write(f"ok: {result['message']}")
        else:
            self.stderr.write(f"erro [{result['code']}]: {result['message']}")
        if not result["ok"]:
            raise SystemExit(EXIT_PLATFORM)

    def cmd_packages(self, *, id, **options):
        packages = integration_list_packages(integration=get_integration(id))
        data = [{"code": p.code, "name": p.name, "description": p.description} for p in packages]

        def lines():
            if not packages:
                return ["A plataforma não informou nenhum pacote."]
            rows = [(p.code, p.name, p.description) for p in packages]
            return [*table(("Código", "Nome", "Descrição"), rows), f"{len(packages)} pacote(s)."]

        self.emit(data, lines)

    def cmd_list(self, **options):
        integrations = list(IntegrationFilterSet(IntegrationFilterSet.from_options(options)).queryset())

        def lines():
            if not integrations:
                return ["Nenhuma integração SVA cadastrada."]
            rows = [
                (
                    i.pk,
                    i.name,
                    i.platform.upper(),
                    i.base_url,
                    i.prefix,
                    fmt_bool(i.auto_create_users),
                    fmt_bool(i.active),
                    "aberto" if integration_data(i)["circuit_open"] else "fechado",
                )
                for i in integrations
            ]
            headers = (
                "ID",
                "Nome",
                "Plataforma",
                "URL",
                "Prefixo",
                "Criação automática",
                "Ativa",
                "Circuito",
            )
            return [*table(headers, rows), f"{len(integrations)} integração(ões)."]

        self.emit([integration_data(i) for i in integrations], lines)

    def cmd_show(self, *, id, **options):
        integration = get_integration(id)
        self.emit(integration_data(integration), lambda: integration_lines(integration))

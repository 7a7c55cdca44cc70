"""What every Agrega CLI command shares.

Each command (``agrega customer …``, ``agrega contract …``) is a Django management
command with subcommands. A subcommand only parses its arguments, calls one service or
selector and prints the result: Portuguese text for people, or JSON with ``--json``.

Errors: an ``ApplicationError`` from a service is printed to stderr as
``erro [<code>]: <message>`` plus one line per field error, and the process exits with
status 2 (validation, conflict, not found) or 3 (the SVA platform refused or did not
answer). With ``--json`` the error body (``{"error": {...}}``) also goes to stdout.
"""

from __future__ import annotations

import abc
import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser, SystemCheckError
from django.utils import timezone

from agrega.core.errors import ApplicationError, FieldError
from agrega.core.heap import freeze_startup_heap
from agrega.core.money import format_brl

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_PLATFORM = 3

DASH = "—"


def exit_code_for(exc: ApplicationError) -> int:
    """3 when the platform refused or could not be reached, 2 for everything else."""
    return EXIT_PLATFORM if "platform_error_kind" in exc.extra else EXIT_ERROR


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"número inteiro inválido: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("deve ser um número inteiro maior que zero")
    return number


def yes_no(value: str) -> bool:
    """``sim``/``nao`` (also ``não``, ``s``/``n``) as given by Brazilian operators."""
    normal = value.strip().lower()
    if normal in ("sim", "s", "yes", "y", "true", "1"):
        return True
    if normal in ("nao", "não", "n", "no", "false", "0"):
        return False
    raise argparse.ArgumentTypeError("use sim ou nao")


def fmt_datetime(value: datetime | None) -> str:
    if value is None:
        return DASH
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M:%S")


def fmt_money(value: Decimal | None) -> str:
    if value is None:
        return DASH
    return format_brl(value)


def fmt_bool(value: bool) -> str:
    return "sim" if value else "não"


def json_default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def key_values(pairs: Iterable[tuple[str, object]], indent: str = "  ") -> list[str]:
    """Aligned ``label: value`` lines."""
    pairs = [(label, DASH if value in (None, "") else str(value)) for label, value in pairs]
    width = max((len(label) for label, _ in pairs), default=0) + 1
    return [f"{indent}{(label + ':').ljust(width)} {value}" for label, value in pairs]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A plain text table (columns padded to the widest cell)."""
    cells = [[DASH if c in (None, "") else str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(values):
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)]


# argparse's own messages (Python 3.11), as an operator reads them: the rest of the CLI speaks
# Portuguese, and "invalid int value" or "the following arguments are required" did not.
_ARGPARSE_MESSAGES: list[tuple[re.Pattern, str]] = [(re.compile(pattern, re.S), text) for pattern, text in [
    (r"^invalid int value: (?P<value>.+)$", "número inteiro inválido: {value}"),
    (r"^invalid float value: (?P<value>.+)$", "número inválido: {value}"),
    (r"^invalid \S+ value: (?P<value>.+)$", "valor inválido: {value}"),
    (r"^invalid choice: (?P<value>.+?) \(choose from (?P<choices>.+)\)$", "opção inválida: {value} (aceitas: {choices})"),
    (r"^expected one argument$", "falta o valor"),
    (r"^expected at most one argument$", "aceita no máximo um valor"),
    (r"^expected at least one argument$", "falta ao menos um valor"),
    (r"^expected (?P<n>\d+) arguments?$", "espera {n} valor(es)"),
    (r"^not allowed with argument (?P<other>.+)$", "não pode ser usado com {other}"),
    (r"^ignored explicit argument (?P<value>.+)$", "valor não aceito: {value}"),
    (r"^the following arguments are required: (?P<names>.+)$", "faltam argumentos obrigatórios: {names}"),
    (r"^one of the arguments (?P<names>.+) is required$", "um destes argumentos é obrigatório: {names}"),
    (r"^unrecognized arguments: (?P<names>.+)$", "argumentos desconhecidos: {names}"),
    (r"^ambiguous option: (?P<option>\S+) could match (?P<matches>.+)$", "opção ambígua: {option} pode ser {matches}"),
]]
_SECTIONS = {"positional arguments": "argumentos", "options": "opções", "optional arguments": "opções"}


def portuguese_argparse_message(message: str) -> str:
    """``message`` from argparse in Portuguese; one it does not know is returned unchanged
    (a type function's own message, e.g. ``positive_int``'s, is already Portuguese)."""
    prefix = ""
    argument = re.match(r"^argument (?P<name>[^:]+): (?P<rest>.+)$", message, re.S)
    if argument:
        prefix, message = f"argumento {argument['name']}: ", argument["rest"]
    for pattern, text in _ARGPARSE_MESSAGES:
        found = pattern.match(message)
        if found:
            return prefix + text.format(**found.groupdict())
    return prefix + message


class PortugueseHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Usage line and section titles in Portuguese (the descriptions are written so)."""

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "uso: " if prefix is None else prefix)

    def start_section(self, heading):
        super().start_section(_SECTIONS.get(heading, heading))


class PortugueseCommandParser(CommandParser):
    """Django's parser with argparse's errors in Portuguese: ``<prog>: erro: <message>`` and
    exit 2 on the command line, ``CommandError`` when called from code (as Django's)."""

    def error(self, message):
        message = portuguese_argparse_message(message)
        if self.called_from_command_line:
            self.print_usage(sys.stderr)
            self.exit(2, f"{self.prog}: erro: {message}\n")
        raise CommandError(f"Erro: {message}")


# The options Django gives every command, whose help it writes in English.
_DEFAULT_OPTION_HELP = {
    "help": "mostra esta ajuda e sai",
    "version": "mostra a versão e sai",
    "verbosity": "quanto mostrar: 0=mínimo, 1=normal, 2=detalhado, 3=muito detalhado",
    "settings": "módulo de configurações do Django (ex.: agrega.settings); padrão: DJANGO_SETTINGS_MODULE",
    "pythonpath": "diretório a acrescentar ao caminho de importação do Python",
    "traceback": "mostra o rastreamento completo quando um erro interrompe o comando",
    "no_color": "saída sem cores",
    "force_color": "saída sempre colorida",
    "skip_checks": "não roda as verificações do sistema antes do comando",
}


# Commands the ``agrega`` program calls by another word (agrega/cli.py): the usage line
# shows the word one types.
DISPATCHER_WORDS = {"sva_worker": "worker"}


class PortugueseCommand(BaseCommand):
    """A management command whose ``--help`` and argument errors speak Portuguese, as the
    rest of the CLI: Django's own options included."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", PortugueseHelpFormatter)
        if os.path.basename(prog_name) == "agrega":
            subcommand = DISPATCHER_WORDS.get(subcommand, subcommand)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Django builds a CommandParser; the subclass adds no state, only Portuguese errors
        parser.__class__ = PortugueseCommandParser
        for action in parser._actions:
            if action.dest in _DEFAULT_OPTION_HELP and action.help is not argparse.SUPPRESS:
                action.help = _DEFAULT_OPTION_HELP[action.dest]
        return parser

    def run_from_argv(self, argv):
        """From the command line (``agrega billing run``, ``agrega tasks worker``, ``agrega
        worker``): the start-up heap is frozen first (agrega/core/heap.py); ``call_command``
        is not."""
        freeze_startup_heap()
        super().run_from_argv(argv)

    def execute(self, *args, **options):
        """A ``CommandError`` on the command line reads ``erro: …`` (Django writes
        ``CommandError: …``); from code, or with ``--traceback``, it is raised as Django's."""
        try:
            return super().execute(*args, **options)
        except CommandError as exc:
            if (not getattr(self, "_called_from_command_line", False) or options.get("traceback")
                    or isinstance(exc, SystemCheckError)):
                raise
            self.stderr.write(f"erro: {exc}")
            sys.exit(exc.returncode)


class AgregaCommand(PortugueseCommand, abc.ABC):
    """A command with subcommands, ``--json`` and the Agrega error shape.

    Subclasses implement ``add_subcommands(self, sub)`` calling ``self.subcommand(sub,
    name, handler, help=…)`` for each, and add their options to the parser it returns.
    A handler receives the parsed options as keyword arguments.
    """

    json_mode = False

    def add_arguments(self, parser):
        sub = parser.add_subparsers(
            dest="subcommand", required=True, metavar="SUBCOMANDO", title="subcomandos",
            parser_class=PortugueseCommandParser,
        )
        self.add_subcommands(sub)

    @abc.abstractmethod
    def add_subcommands(self, sub) -> None:
        """Declare the subcommands with ``self.subcommand(sub, name, handler, help=…)``."""

    def subcommand(
        self,
        sub,
        name: str,
        handler: Callable[..., None],
        *,
        help: str,
        epilog: str | None = None,
    ) -> argparse.ArgumentParser:
        parser = sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=epilog,
            formatter_class=PortugueseHelpFormatter,
            add_help=False,
        )
        parser.add_argument("-h", "--help", action="help", help="mostra esta ajuda e sai")
        parser.add_argument("--json", action="store_true", help="saída em JSON (para scripts)")
        parser.set_defaults(_handler=handler)
        return parser

    @staticmethod
    def add_actor(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--as",
            dest="as_user",
            metavar="USUARIO",
            default=None,
            help='usuário (username) que fica registrado como autor; padrão: "sistema"',
        )

    # -- running -------------------------------------------------------------------

    def handle(self, *args, **options):
        handler = options.pop("_handler")
        self.json_mode = bool(options.get("json"))
        try:
            handler(**options)
        except ApplicationError as exc:
            self.fail(exc)

    def fail(self, exc: ApplicationError, exit_code: int | None = None):
        """Print the error (never a traceback) and leave with status 2 or 3."""
        if self.json_mode:
            self.emit_json({"error": exc.as_dict()})
        self.stderr.write(f"erro [{exc.code}]: {exc.message}")
        for field, errors in exc.fields.items():
            for error in errors:
                self.stderr.write(f"  {field}: [{error.code}] {error.message}")
        raise SystemExit(exit_code if exit_code is not None else exit_code_for(exc))

    # -- output --------------------------------------------------------------------

    def emit_json(self, data) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=json_default))

    def emit(self, data, lines: Callable[[], Iterable[str]] | Iterable[str]) -> None:
        """``data`` as JSON with --json, else the human lines."""
        if self.json_mode:
            self.emit_json(data)
            return
        for line in lines() if callable(lines) else lines:
            self.stdout.write(line)

    def warn(self, message: str) -> None:
        self.stderr.write(f"aviso: {message}")

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def actor(username: str | None):
        """The user named by ``--as``; None means "sistema"."""
        if not username or username == "sistema":
            return None
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            message = f"Usuário '{username}' não existe ou está inativo."
            raise ApplicationError(
                "user_not_found",
                message,
                status_code=404,
                fields={"as": [FieldError("user_not_found", message)]},
            )
        return user

    @staticmethod
    def given(options: dict, names: Iterable[str]) -> dict:
        """The options among ``names`` that were given on the command line."""
        return {name: options[name] for name in names if options.get(name) is not None}

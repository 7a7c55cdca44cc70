"""``agrega user list|create|set-role|deactivate|reactivate|reset-password|tokens|revoke-token``:
a administração de usuários, sem precisar de ``agrega shell``.

    agrega user create joana --name "Joana da Silva" --email joana@example.com.br --role operador
    agrega user set-role joana administrador --as admin
    agrega user deactivate joana --as admin
    agrega user reset-password joana --generate-password
    printf '%s\\n' "$SENHA" | agrega user reset-password joana --password-stdin

A senha nunca vai na linha de comando (ficaria no histórico do shell): é pedida no
terminal, lida da entrada padrão (``--password-stdin``) ou gerada (``--generate-password``,
mostrada uma única vez). As regras são as da página e da API (core.services).
"""

from __future__ import annotations

import getpass
import sys

import argparse

from agrega.core import selectors, services
from agrega.core.errors import ApplicationError, FieldError, NotFound
from agrega.core.management.base import AgregaCommand, fmt_bool, fmt_datetime, key_values, table
from agrega.core.roles import Role
from agrega.core.users_filtersets import UserFilterSet, normalize_role


def role_arg(value: str) -> str:
    """A role by its name, or a short one that needs no quotes (admin, leitura)."""
    role = normalize_role(value)
    if role not in Role.values:
        raise argparse.ArgumentTypeError("use administrador, operador ou 'somente leitura' (ou leitura)")
    return str(role)


def user_data(user) -> dict:
    role = selectors.user_role_of(user)
    return {"id": user.pk, "username": user.username, "name": services.user_name(user), "email": user.email,
            "role": role.value if role else None, "is_active": user.is_active,
            "date_joined": user.date_joined, "last_login": user.last_login}


def user_lines(user) -> list[str]:
    data = user_data(user)
    return [f"Usuário {data['username']} (id {data['id']})", *key_values([
        ("Nome", data["name"]), ("E-mail", data["email"]), ("Papel", data["role"] or "nenhum"),
        ("Ativo", fmt_bool(data["is_active"])), ("Criado em", fmt_datetime(data["date_joined"])),
        ("Último acesso", fmt_datetime(data["last_login"]))])]


def token_data(token) -> dict:
    return {"id": token.pk, "name": token.name, "key_prefix": token.key_prefix, "created_at": token.created_at,
            "last_used_at": token.last_used_at, "revoked_at": token.revoked_at}


def get_user(username: str):
    user = selectors.user_list().filter(username=username).first()
    if user is None:
        raise NotFound("Usuário", "user_not_found")
    return user


def _password_error(message: str) -> ApplicationError:
    return ApplicationError("password_required", message, status_code=422,
                            fields={"password": [FieldError("password_required", message)]})


class Command(AgregaCommand):
    help = "Usuários do Agrega: lista, cria, muda o papel, desativa, reativa, redefine a senha, tokens."

    def add_subcommands(self, sub):
        list_ = self.subcommand(sub, "list", self.cmd_list, help="Lista os usuários.")
        UserFilterSet.add_arguments(list_)  # the same filters as the page and the API
        create = self.subcommand(sub, "create", self.cmd_create, help="Cria um usuário.",
                                 epilog="Exemplo: agrega user create joana --name 'Joana da Silva' "
                                        "--email joana@example.com.br --role operador --generate-password")
        create.add_argument("username", metavar="USUARIO", help="login (letras, números e @ . + - _)")
        create.add_argument("--name", required=True, metavar="NOME", help="nome da pessoa")
        create.add_argument("--email", required=True, metavar="EMAIL")
        create.add_argument("--role", required=True, type=role_arg, metavar="PAPEL",
                            help="administrador, operador ou leitura ('somente leitura')")
        self._password_options(create)
        self.add_actor(create)
        set_role = self.subcommand(sub, "set-role", self.cmd_set_role, help="Define o papel de um usuário.")
        set_role.add_argument("username", metavar="USUARIO")
        set_role.add_argument("role", type=role_arg, metavar="PAPEL",
                              help="administrador, operador ou leitura ('somente leitura')")
        self.add_actor(set_role)
        for name, handler, text in (
            ("deactivate", self.cmd_deactivate, "Desativa um usuário: revoga os tokens e encerra as sessões."),
            ("reactivate", self.cmd_reactivate, "Reativa um usuário (os tokens revogados continuam revogados)."),
        ):
            parser = self.subcommand(sub, name, handler, help=text)
            parser.add_argument("username", metavar="USUARIO")
            self.add_actor(parser)
        reset = self.subcommand(sub, "reset-password", self.cmd_reset_password,
                                help="Define uma nova senha (pedida, lida da entrada ou gerada).")
        reset.add_argument("username", metavar="USUARIO")
        self._password_options(reset)
        self.add_actor(reset)
        tokens = self.subcommand(sub, "tokens", self.cmd_tokens, help="Lista os tokens de API de um usuário.")
        tokens.add_argument("username", metavar="USUARIO")
        tokens.add_argument("--active-only", action="store_true", help="sem os revogados")
        revoke = self.subcommand(sub, "revoke-token", self.cmd_revoke_token, help="Revoga um token de um usuário.")
        revoke.add_argument("username", metavar="USUARIO")
        revoke.add_argument("token_id", type=int, metavar="TOKEN_ID", help="ID do token (veja `agrega user tokens`)")
        self.add_actor(revoke)

    @staticmethod
    def _password_options(parser):
        how = parser.add_mutually_exclusive_group()
        how.add_argument("--password-stdin", action="store_true", help="lê a senha da primeira linha da entrada")
        how.add_argument("--generate-password", action="store_true",
                         help="gera uma senha aleatória e a mostra uma única vez")

    def _password(self, *, password_stdin: bool, generate_password: bool) -> str | None:
        """The password chosen by the options; None: generate one."""
        if generate_password:
            return None
        if password_stdin:
            line = sys.stdin.readline().rstrip("\r\n")
            if not line:
                raise _password_error("Nenhuma senha na entrada padrão.")
            return line
        if not sys.stdin.isatty():
            raise _password_error("Informe --password-stdin ou --generate-password (sem terminal para pedir a senha).")
        first = getpass.getpass("Senha: ")
        if first != getpass.getpass("Senha (de novo): "):
            raise _password_error("As senhas digitadas não conferem.")
        return first

    def _show_password(self, generated: str | None) -> list[str]:
        return [f"Senha gerada (anote; não será mostrada de novo): {generated}"] if generated else []

    def cmd_list(self, **options):
        users = list(UserFilterSet(UserFilterSet.from_options(options)).queryset())

        def lines():
            rows = [(u["id"], u["username"], u["name"], u["email"], u["role"] or "nenhum", fmt_bool(u["is_active"]),
                     fmt_datetime(u["last_login"])) for u in data]
            return [*table(("ID", "Usuário", "Nome", "E-mail", "Papel", "Ativo", "Último acesso"), rows),
                    f"{len(rows)} usuário(s)."]

        data = [user_data(u) for u in users]
        self.emit(data, lines)

    def cmd_create(self, *, username, name, email, role, password_stdin, generate_password, as_user=None, **_):
        actor = self.actor(as_user)
        password = self._password(password_stdin=password_stdin, generate_password=generate_password)
        generated = None
        if password is None:
            generated = password = services.generate_password()
        user = services.user_create(actor=actor, username=username, name=name, email=email, role=role,
                                    password=password)
        user = get_user(user.username)
        self.emit({**user_data(user), "password": generated},
                  lambda: ["Usuário criado.", *user_lines(user), *self._show_password(generated)])

    def cmd_set_role(self, *, username, role, as_user=None, **_):
        user = services.user_set_role(actor=self.actor(as_user), user_id=get_user(username).pk, role=role)
        user = get_user(user.username)
        self.emit(user_data(user), lambda: ["Papel alterado.", *user_lines(user)])

    def cmd_deactivate(self, *, username, as_user=None, **_):
        user = services.user_deactivate(actor=self.actor(as_user), user_id=get_user(username).pk)
        user = get_user(user.username)
        self.emit(user_data(user), lambda: ["Usuário desativado: tokens revogados, sessões encerradas.",
                                            *user_lines(user)])

    def cmd_reactivate(self, *, username, as_user=None, **_):
        user = services.user_reactivate(actor=self.actor(as_user), user_id=get_user(username).pk)
        user = get_user(user.username)
        self.emit(user_data(user), lambda: ["Usuário reativado.", *user_lines(user)])

    def cmd_reset_password(self, *, username, password_stdin, generate_password, as_user=None, **_):
        actor = self.actor(as_user)
        target = get_user(username)
        password = self._password(password_stdin=password_stdin, generate_password=generate_password)
        user, generated = services.user_reset_password(actor=actor, user_id=target.pk, password=password)
        self.emit({"user": user_data(get_user(user.username)), "password": generated},
                  lambda: ["Senha redefinida; as sessões do usuário foram encerradas.",
                           *self._show_password(generated)])

    def cmd_tokens(self, *, username, active_only=False, **_):
        user = get_user(username)
        tokens = list(selectors.user_tokens(user_id=user.pk, include_revoked=not active_only))

        def lines():
            rows = [(t.pk, t.name, t.key_prefix + "…", fmt_datetime(t.created_at), fmt_datetime(t.last_used_at),
                     fmt_datetime(t.revoked_at) if t.revoked_at else "ativo") for t in tokens]
            return [*table(("ID", "Nome", "Início", "Criado em", "Último uso", "Revogado em"), rows),
                    f"{len(rows)} token(s) de {user.username}."]

        self.emit([token_data(t) for t in tokens], lines)

    def cmd_revoke_token(self, *, username, token_id, as_user=None, **_):
        token = services.user_token_revoke(actor=self.actor(as_user), user_id=get_user(username).pk,
                                           token_id=token_id)
        self.emit(token_data(token), [f"Token {token.pk} ({token.name}, {token.key_prefix}…) revogado."])

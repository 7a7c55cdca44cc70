"""``agrega sva_user create|list|show|delete|sync`` (also ``agrega sva-user …``): usuários SVA.

``show`` answers the operator's question "why is this account not active?": what Agrega
wants, what the platform confirmed, the last attempt and error, the registration
problems and the last platform calls.
"""

from __future__ import annotations

from agrega.core.br import format_document, format_mobile
from agrega.core.errors import ApplicationError, FieldError, NotFound
from agrega.core.management.base import AgregaCommand, fmt_datetime, key_values, table
from agrega.sva.choices import SvaState, SyncStatus, operation_label
from agrega.sva.filtersets import SvaUserFilterSet
from agrega.sva.models import SvaUser
from agrega.sva.selectors import (
    desired_for,
    sva_user_get,
    sva_user_timeline,
    sync_status,
)
from agrega.sva.services import sva_user_create, sva_user_delete, sva_user_request_sync

TIMELINE_LIMIT = 20


def _state_label(state: str) -> str:
    return SvaState(state).label if state in SvaState.values else state


def sva_user_summary(user: SvaUser) -> dict:
    """What lists show: desired and confirmed state, sync status, last error."""
    desired = desired_for(user)
    status = sync_status(user)
    return {
        "id": user.pk,
        "integration_id": user.integration_id,
        "integration": user.integration.name,
        "contract_id": user.contract_id,
        "contract_product_id": user.contract_product_id,
        "product": user.contract_product.product.name,
        "package_code": desired.package_code,
        "origin": user.origin,
        "use_customer_data": user.use_customer_data,
        "external_id": user.external_id,
        "remote_id": user.remote_id,
        "desired_state": desired.state,
        "confirmed_state": user.confirmed_state,
        "sync_status": status,
        "sync_status_label": SyncStatus(status).label,
        "last_attempt_at": user.last_attempt_at,
        "last_success_at": user.last_success_at,
        "last_error_code": user.last_error_code,
        "last_error_message": user.last_error_message,
        "registration_problems": user.registration_problems,
        "deleted_at": user.deleted_at,
    }


def sva_user_data(user: SvaUser, *, timeline: bool = True) -> dict:
    desired = desired_for(user)
    data = sva_user_summary(user)
    data.update(
        {
            "desired": {
                "state": desired.state,
                "name": desired.name,
                "email": desired.email,
                "phone": desired.phone,
                "document": desired.document,
                "package_code": desired.package_code,
            },
            "confirmed": {
                "state": user.confirmed_state,
                "name": user.confirmed_name,
                "email": user.confirmed_email,
                "phone": user.confirmed_phone,
                "document": user.confirmed_document,
                "package_code": user.confirmed_package,
                "at": user.confirmed_at,
            },
            "version": user.version,
            "synced_version": user.synced_version,
            "failures": user.failures,
            "next_attempt_at": user.next_attempt_at,
            "created_at": user.created_at,
        }
    )
    if timeline:
        data["timeline"] = [
            {
                "at": call.created_at,
                "operation": call.operation,
                "operation_label": operation_label(call.operation),
                "method": call.method,
                "path": call.path,
                "status_code": call.status_code,
                "duration_ms": call.duration_ms,
                "error_code": call.error_code,
                "request": call.request,
                "response": call.response,
            }
            for call in sva_user_timeline(user, TIMELINE_LIMIT)
        ]
    return data


def _who(email: str, phone: str, document: str) -> str:
    parts = [email, format_mobile(phone), format_document(document)]
    return ", ".join(p for p in parts if p)


def _confirmed(confirmed: dict) -> str:
    text = _state_label(confirmed["state"])
    if confirmed["state"] in (SvaState.ACTIVE, SvaState.BLOCKED):
        text += (
            f" — pacote {confirmed['package_code']}; "
            f"{_who(confirmed['email'], confirmed['phone'], confirmed['document'])}"
        )
    if confirmed["at"]:
        text += f" (confirmado em {fmt_datetime(confirmed['at'])})"
    return text


def sva_user_lines(user: SvaUser, data: dict) -> list[str]:
    desired, confirmed = data["desired"], data["confirmed"]
    last_error = (
        f"[{user.last_error_code}] {user.last_error_message}" if user.last_error_code else ""
    )
    origin = f"{user.get_origin_display()} — " + (
        "usa os dados do cadastro do cliente" if user.use_customer_data else "dados próprios"
    )
    title = (
        f"Usuário SVA {user.pk} — contrato {user.contract_id}, produto do contrato "
        f"{user.contract_product_id} ({data['product']})"
    )
    wanted = (
        f"{_state_label(desired['state'])} — pacote {desired['package_code']}; "
        f"{_who(desired['email'], desired['phone'], desired['document'])}"
    )
    lines = [
        title,
        *key_values(
            [
                ("Integração", f"{user.integration_id} — {user.integration}"),
                ("Origem", origin),
                ("ID externo", user.external_id),
                ("ID na plataforma", user.remote_id),
                ("Situação", data["sync_status_label"]),
                ("Desejado", wanted),
                ("Na plataforma", _confirmed(confirmed)),
                ("Última tentativa", fmt_datetime(user.last_attempt_at)),
                ("Último sucesso", fmt_datetime(user.last_success_at)),
                ("Último erro", last_error),
                ("Falhas seguidas", user.failures),
                (
                    "Próxima tentativa",
                    fmt_datetime(user.next_attempt_at) if user.next_attempt_at else "",
                ),
                ("Removido em", fmt_datetime(user.deleted_at) if user.deleted_at else ""),
            ]
        ),
    ]
    problems = user.registration_problems or []
    if problems:
        lines.append(
            "Problemas de cadastro (o usuário só é criado na plataforma depois de corrigidos):"
        )
        lines += [f"  {p['field']}: [{p['code']}] {p['message']}" for p in problems]
    calls = data.get("timeline") or []
    lines.append(f"Linha do tempo (últimas {TIMELINE_LIMIT} chamadas à plataforma):")
    if not calls:
        lines.append("  nenhuma chamada ainda.")
    for call in calls:
        status = call["status_code"] if call["status_code"] is not None else "sem resposta"
        error = f"  [{call['error_code']}]" if call["error_code"] else ""
        lines.append(
            f"  {fmt_datetime(call['at'])}  {call['operation_label']} ({call['operation']})  "
            f"{call['method']} {call['path']}  "
            f"{status}  {call['duration_ms']:.0f} ms{error}"
        )
    return lines


def sva_user_rows(summaries: list[dict]) -> list[str]:
    """A table of ``sva_user_summary`` dicts."""
    rows = [
        (
            s["id"],
            s["contract_id"],
            s["contract_product_id"],
            s["product"],
            s["integration_id"],
            _state_label(s["desired_state"]),
            _state_label(s["confirmed_state"]),
            s["sync_status_label"],
            f"[{s['last_error_code']}] {s['last_error_message']}" if s["last_error_code"] else "",
        )
        for s in summaries
    ]
    headers = (
        "ID",
        "Contrato",
        "Item",
        "Produto",
        "Integração",
        "Desejado",
        "Na plataforma",
        "Situação",
        "Último erro",
    )
    return table(headers, rows)


def get_sva_user(pk: int) -> SvaUser:
    user = sva_user_get(pk)
    if user is None:
        raise NotFound("Usuário SVA", "sva_user_not_found")
    return user


class Command(AgregaCommand):
    help = "Usuários SVA: cria (ativação manual), lista, mostra, remove e sincroniza."

    def add_subcommands(self, sub):
        create = self.subcommand(
            sub,
            "create",
            self.cmd_create,
            help="Cria um usuário SVA para um produto do contrato (ativação manual).",
            epilog="Por padrão usa os dados do cadastro do cliente (CPF/CNPJ, e-mail principal e\n"
            "telefone celular). Com --no-customer-data, informe --email, --phone e --document.",
        )
        create.add_argument(
            "--contract",
            dest="contract_id",
            type=int,
            required=True,
            metavar="ID",
            help="ID do contrato",
        )
        create.add_argument(
            "--integration",
            dest="integration_id",
            type=int,
            required=True,
            metavar="ID",
            help="ID da integração SVA",
        )
        create.add_argument(
            "--item",
            dest="contract_product_id",
            type=int,
            required=True,
            metavar="ID",
            help="ID do produto do contrato (veja `agrega contract show ID`)",
        )
        create.add_argument(
            "--no-customer-data",
            action="store_true",
            help="não usar os dados do cadastro do cliente",
        )
        create.add_argument("--email", metavar="EMAIL", help="usuário (e-mail)")
        create.add_argument("--phone", metavar="TELEFONE", help="telefone celular")
        create.add_argument("--document", metavar="CPF_CNPJ", help="CPF ou CNPJ")
        self.add_actor(create)

        listing = self.subcommand(sub, "list", self.cmd_list, help="Lista usuários SVA.")
        SvaUserFilterSet.add_arguments(listing)  # the same filters as the API

        show = self.subcommand(
            sub,
            "show",
            self.cmd_show,
            help="Mostra um usuário SVA: desejado, confirmado, situação, erros e linha do tempo.",
        )
        show.add_argument("id", type=int, help="ID do usuário SVA")

        delete = self.subcommand(
            sub,
            "delete",
            self.cmd_delete,
            help="Remove o usuário SVA do Agrega e da plataforma (o worker o remove lá).",
        )
        delete.add_argument("id", type=int, help="ID do usuário SVA")
        self.add_actor(delete)

        sync = self.subcommand(
            sub,
            "sync",
            self.cmd_sync,
            help="Sincronizar agora: esquece a espera entre tentativas; o worker converge em seguida.",
        )
        sync.add_argument("id", type=int, help="ID do usuário SVA")
        self.add_actor(sync)

    def _emit_user(self, user: SvaUser, title: str | None = None) -> None:
        user = get_sva_user(user.pk)
        data = sva_user_data(user)
        self.emit(data, lambda: ([title] if title else []) + sva_user_lines(user, data))

    def cmd_create(
        self,
        *,
        contract_id,
        integration_id,
        contract_product_id,
        no_customer_data=False,
        email=None,
        phone=None,
        document=None,
        as_user=None,
        **options,
    ):
        own = {"email": email, "phone": phone, "document": document}
        if not no_customer_data and any(v is not None for v in own.values()):
            names = ", ".join("--" + k for k, v in own.items() if v is not None)
            message = (
                f"{names} só vale(m) com --no-customer-data "
                "(senão os dados vêm do cadastro do cliente)."
            )
            raise ApplicationError(
                "customer_data_conflict",
                message,
                status_code=422,
                fields={"use_customer_data": [FieldError("customer_data_conflict", message)]},
            )
        user = sva_user_create(
            contract_id=contract_id,
            integration_id=integration_id,
            contract_product_id=contract_product_id,
            use_customer_data=not no_customer_data,
            email=email or "",
            phone=phone or "",
            document=document or "",
            actor=self.actor(as_user),
        )
        self._emit_user(user, "Usuário SVA criado; o worker o cria na plataforma.")

    def cmd_list(self, **options):
        users = SvaUserFilterSet(SvaUserFilterSet.from_options(options)).queryset()
        summaries = [sva_user_summary(u) for u in users]

        def lines():
            if not summaries:
                return ["Nenhum usuário SVA encontrado."]
            return [*sva_user_rows(summaries), f"{len(summaries)} usuário(s) SVA."]

        self.emit(summaries, lines)

    def cmd_show(self, *, id, **options):
        self._emit_user(get_sva_user(id))

    def cmd_delete(self, *, id, as_user=None, **options):
        user = sva_user_delete(sva_user=get_sva_user(id), actor=self.actor(as_user))
        self._emit_user(user, "Usuário SVA removido; o worker o remove da plataforma.")

    def cmd_sync(self, *, id, **options):
        user = sva_user_request_sync(sva_user=get_sva_user(id), actor=self.actor(options.get("as_user")))
        self._emit_user(
            user, "Sincronização solicitada; o worker converge este usuário em seguida."
        )

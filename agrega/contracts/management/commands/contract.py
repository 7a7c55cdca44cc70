"""``agrega contract …``: contratos, seus produtos e as ações de status.

Actions (``activate``, ``block-manual``, ``block-automatic``, ``mark-overdue``,
``release``, ``deactivate``, ``cancel``) go through ``contract_transition``; the SVA
users follow the contract (the worker converges them on the platform).
"""

from __future__ import annotations

from agrega.contracts.choices import ContractAction
from agrega.contracts.filtersets import ContractFilterSet
from agrega.contracts.models import Contract, ContractProduct
from agrega.contracts.services import (
    contract_add_product,
    contract_create,
    contract_remove_product,
    contract_transition,
)
from agrega.core.br import format_document
from agrega.core.errors import NotFound
from agrega.core.management.base import (
    AgregaCommand,
    fmt_datetime,
    fmt_money,
    key_values,
    positive_int,
    table,
)
from agrega.plans.services import contract_create_from_plan

# The CLI is an entry point over every app, so it may read the SVA users of a contract.
from agrega.sva.management.commands.sva_user import sva_user_rows, sva_user_summary
from agrega.sva.selectors import sva_user_list

ACTIONS = {
    "activate": (ContractAction.ACTIVATE, "Ativa um pré-contrato ou um contrato inativo."),
    "block-manual": (ContractAction.BLOCK_MANUAL, "Bloqueio manual (CM)."),
    "block-automatic": (ContractAction.BLOCK_AUTOMATIC, "Bloqueio automático (CA)."),
    "mark-overdue": (ContractAction.MARK_OVERDUE, "Marca financeiro em atraso (FA)."),
    "release": (ContractAction.RELEASE, "Desbloqueio: volta o acesso para ativo."),
    "deactivate": (ContractAction.DEACTIVATE, "Inativa o contrato."),
    "cancel": (ContractAction.CANCEL, "Cancela o contrato (desistiu/cancelado)."),
}
EVENTS_SHOWN = 10


def _label(choices, value: str) -> str:
    return choices(value).label if value in choices.values else value


def item_data(item: ContractProduct) -> dict:
    return {
        "id": item.pk,
        "product_id": item.product_id,
        "product": item.product.name,
        "kind": item.kind,
        "price": item.price if item.price is not None else item.product.price,
        "price_override": item.price is not None,
        "sva_integration_id": item.product.sva_integration_id,
        "sva_package_code": item.product.sva_package_code,
        "added_at": item.added_at,
        "removed_at": item.removed_at,
    }


def contract_data(contract: Contract, *, full: bool = True) -> dict:
    customer = contract.customer
    data = {
        "id": contract.pk,
        "customer": {"id": customer.pk, "name": customer.name, "document": customer.document},
        "status": contract.status,
        "status_label": contract.get_status_display(),
        "access_status": contract.access_status,
        "access_status_label": contract.get_access_status_display(),
        "billing_day": contract.billing_day,
        "description": contract.description,
        "version": contract.version,
        "activated_at": contract.activated_at,
        "ended_at": contract.ended_at,
        "created_at": contract.created_at,
        "updated_at": contract.updated_at,
    }
    if full:
        items = contract.products.select_related("product").order_by("id")
        data["products"] = [item_data(i) for i in items]
        data["sva_users"] = [sva_user_summary(u) for u in sva_user_list(contract_id=contract.pk)]
        data["events"] = [
            {
                "at": e.created_at,
                "action": e.action,
                "action_label": e.get_action_display(),
                "actor": e.actor_label,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "from_access_status": e.from_access_status,
                "to_access_status": e.to_access_status,
                "detail": e.detail,
            }
            for e in contract.events.order_by("-id")[:EVENTS_SHOWN]
        ]
    return data


def _statuses(contract: Contract) -> str:
    return (
        f"status {contract.status} ({contract.get_status_display()}), "
        f"acesso {contract.access_status} ({contract.get_access_status_display()})"
    )


def contract_lines(contract: Contract, data: dict) -> list[str]:
    customer = contract.customer
    lines = [
        (
            f"Contrato {contract.pk} — {customer.name} "
            f"({format_document(customer.document)}, cliente {customer.pk})"
        ),
        *key_values(
            [
                ("Status", f"{contract.status} — {contract.get_status_display()}"),
                (
                    "Status de acesso",
                    f"{contract.access_status} — {contract.get_access_status_display()}",
                ),
                ("Dia de vencimento", contract.billing_day),
                ("Descrição", contract.description),
                (
                    "Ativado em",
                    fmt_datetime(contract.activated_at) if contract.activated_at else "",
                ),
                ("Encerrado em", fmt_datetime(contract.ended_at) if contract.ended_at else ""),
                ("Criado em", fmt_datetime(contract.created_at)),
            ]
        ),
        "Produtos:",
    ]
    if not data["products"]:
        lines.append("  nenhum produto.")
    else:
        rows = [
            (
                p["id"],
                p["product"],
                p["kind"],
                fmt_money(p["price"]),
                f"{p['sva_package_code']} (integração {p['sva_integration_id']})"
                if p["sva_integration_id"]
                else "",
                fmt_datetime(p["added_at"]),
                f"removido em {fmt_datetime(p['removed_at'])}" if p["removed_at"] else "",
            )
            for p in data["products"]
        ]
        headers = ("Item", "Produto", "Tipo", "Valor", "Pacote SVA", "Incluído em", "Removido")
        lines += ["  " + line for line in table(headers, rows)]
    lines.append("Usuários SVA:")
    if not data["sva_users"]:
        lines.append("  nenhum usuário SVA.")
    else:
        lines += ["  " + line for line in sva_user_rows(data["sva_users"])]
    lines.append(f"Histórico (últimos {EVENTS_SHOWN}):")
    for e in data["events"]:
        change = ""
        if (e["from_status"], e["from_access_status"]) != (e["to_status"], e["to_access_status"]):
            change = (
                f": {e['from_status'] or '-'}/{e['from_access_status'] or '-'} → "
                f"{e['to_status']}/{e['to_access_status']}"
            )
        note = f" — {e['detail']['note']}" if e["detail"].get("note") else ""
        product = f" — {e['detail']['product']}" if e["detail"].get("product") else ""
        lines.append(
            f"  {fmt_datetime(e['at'])}  {e['action_label']}{change}{product}{note}"
            f"  (por {e['actor']})"
        )
    return lines


def get_contract(pk: int) -> Contract:
    contract = Contract.objects.select_related("customer").filter(pk=pk).first()
    if contract is None:
        raise NotFound("Contrato", "contract_not_found")
    return contract


def _upper(value: str) -> str:
    return value.strip().upper()


class Command(AgregaCommand):
    help = "Contratos: cria, mostra, lista, inclui/remove produtos e muda o status."

    def add_subcommands(self, sub):
        create = self.subcommand(
            sub, "create", self.cmd_create, help="Cria um contrato (pré-contrato)."
        )
        create.add_argument(
            "--customer",
            dest="customer_id",
            type=int,
            required=True,
            metavar="ID",
            help="ID do cliente",
        )
        create.add_argument(
            "--billing-day",
            type=int,
            default=10,
            metavar="N",
            help="dia de vencimento, 1 a 31 (padrão 10)",
        )
        create.add_argument("--description", default="", metavar="TEXTO", help="descrição")
        create.add_argument(
            "--plan", dest="plan_id", type=int, metavar="ID",
            help="plano de venda: inclui os produtos do plano, nos valores do plano (`agrega plan list`)",
        )
        self.add_actor(create)

        show = self.subcommand(
            sub,
            "show",
            self.cmd_show,
            help="Mostra um contrato: status, produtos, usuários SVA e histórico.",
        )
        show.add_argument("id", type=int, help="ID do contrato")

        listing = self.subcommand(sub, "list", self.cmd_list, help="Lista contratos.")
        ContractFilterSet.add_arguments(listing)
        listing.add_argument(
            "--limit", type=positive_int, default=100, metavar="N", help="máximo (padrão 100)"
        )

        add = self.subcommand(
            sub, "add-product", self.cmd_add_product, help="Inclui um produto no contrato."
        )
        add.add_argument("id", type=int, help="ID do contrato")
        add.add_argument(
            "--product",
            dest="product_id",
            type=int,
            required=True,
            metavar="ID",
            help="ID do produto",
        )
        add.add_argument(
            "--kind",
            type=_upper,
            metavar="SVA|OUTRO",
            help="tipo; padrão: SVA para produtos com aba SVA, senão OUTRO",
        )
        add.add_argument(
            "--price", metavar="VALOR", help="valor neste contrato (padrão: o do produto)"
        )
        self.add_actor(add)

        remove = self.subcommand(
            sub,
            "remove-product",
            self.cmd_remove_product,
            help="Remove um produto do contrato (o usuário SVA dele também é removido).",
        )
        remove.add_argument("id", type=int, help="ID do contrato")
        remove.add_argument(
            "--item",
            dest="contract_product_id",
            type=int,
            required=True,
            metavar="ID",
            help="ID do produto do contrato (coluna Item de `contract show`)",
        )
        self.add_actor(remove)

        for name, (action, text) in ACTIONS.items():
            parser = self.subcommand(sub, name, self.cmd_action, help=text)
            parser.add_argument("id", type=int, help="ID do contrato")
            parser.add_argument(
                "--note", default="", metavar="TEXTO", help="observação no histórico"
            )
            parser.set_defaults(action=action)
            self.add_actor(parser)

    def _emit_contract(self, contract: Contract, title: str | None = None) -> None:
        contract = get_contract(contract.pk)
        data = contract_data(contract)
        self.emit(data, lambda: ([title] if title else []) + contract_lines(contract, data))

    def cmd_create(self, *, customer_id, billing_day=10, description="", plan_id=None, as_user=None, **options):
        if plan_id is not None:  # Plano de venda (agrega.plans)
            contract = contract_create_from_plan(
                customer_id=customer_id, plan_id=plan_id, billing_day=billing_day,
                description=description, actor=self.actor(as_user),
            )
            self._emit_contract(contract, f"Contrato {contract.pk} criado com o plano de venda {plan_id}.")
            return
        contract = contract_create(
            customer_id=customer_id,
            billing_day=billing_day,
            description=description,
            actor=self.actor(as_user),
        )
        self._emit_contract(contract, f"Contrato {contract.pk} criado.")

    def cmd_show(self, *, id, **options):
        self._emit_contract(get_contract(id))

    def cmd_list(self, *, limit=100, **options):
        contracts = list(ContractFilterSet(ContractFilterSet.from_options(options)).queryset()[:limit])

        def lines():
            if not contracts:
                return ["Nenhum contrato encontrado."]
            rows = [
                (
                    c.pk,
                    c.customer.name,
                    format_document(c.customer.document),
                    f"{c.status} ({c.get_status_display()})",
                    f"{c.access_status} ({c.get_access_status_display()})",
                    c.billing_day,
                    c.description,
                )
                for c in contracts
            ]
            headers = ("ID", "Cliente", "CPF/CNPJ", "Status", "Acesso", "Vencimento", "Descrição")
            return [*table(headers, rows), f"{len(contracts)} contrato(s)."]

        self.emit([contract_data(c, full=False) for c in contracts], lines)

    def cmd_add_product(self, *, id, product_id, kind=None, price=None, as_user=None, **options):
        item = contract_add_product(
            contract=id, product_id=product_id, kind=kind, price=price, actor=self.actor(as_user)
        )
        self._emit_contract(item.contract, f"Produto incluído no contrato {id} (item {item.pk}).")

    def cmd_remove_product(self, *, id, contract_product_id, as_user=None, **options):
        item = contract_remove_product(
            contract=id, contract_product_id=contract_product_id, actor=self.actor(as_user)
        )
        self._emit_contract(item.contract, f"Produto removido do contrato {id} (item {item.pk}).")

    def cmd_action(self, *, id, action, note="", as_user=None, **options):
        contract = contract_transition(
            contract=id, action=action, actor=self.actor(as_user), note=note
        )
        label = _label(ContractAction, action)
        self._emit_contract(contract, f"Contrato {contract.pk} — {label}: {_statuses(contract)}.")

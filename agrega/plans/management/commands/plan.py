"""``agrega plan list|show|create|update|add-item|remove-item|delete``: planos de venda
(um conjunto de produtos — internet e pacotes SVA — com seus valores). Para criar um
contrato a partir de um plano: ``agrega contract create --customer ID --plan ID``."""

from __future__ import annotations

import argparse

from agrega.core.errors import NotFound
from agrega.core.management.base import AgregaCommand, fmt_bool, fmt_datetime, fmt_money, key_values, table
from agrega.plans.filtersets import PlanFilterSet
from agrega.plans.models import SalesPlan
from agrega.plans.selectors import item_price, plan_get, plan_total
from agrega.plans.services import plan_add_item, plan_create, plan_delete, plan_remove_item, plan_update


def item_arg(value: str) -> dict:
    """``PRODUTO`` or ``PRODUTO:VALOR`` (valor com ponto ou vírgula)."""
    product, _, price = value.partition(":")
    if not product.strip().isdigit():
        raise argparse.ArgumentTypeError(f"use PRODUTO ou PRODUTO:VALOR, ex.: 3:99.90 (recebido {value!r})")
    return {"product_id": int(product), "price": price.strip() or None}


def plan_data(plan: SalesPlan) -> dict:
    return {
        "id": plan.pk,
        "name": plan.name,
        "description": plan.description,
        "active": plan.active,
        "total": plan_total(plan),
        "items": [
            {
                "id": i.pk,
                "product_id": i.product_id,
                "product": i.product.name,
                "kind": "SVA" if i.product.is_sva else "OUTRO",
                "sva_integration_id": i.product.sva_integration_id,
                "sva_package_code": i.product.sva_package_code,
                "price": i.price,
                "effective_price": item_price(i),
            }
            for i in plan.items.all()
        ],
        "created_at": plan.created_at,
        "updated_at": plan.updated_at,
    }


def plan_lines(plan: SalesPlan, data: dict) -> list[str]:
    lines = [
        f"Plano de venda {plan.pk} — {plan.name}",
        *key_values([
            ("Descrição", plan.description),
            ("Ativo", fmt_bool(plan.active)),
            ("Valor mensal", fmt_money(data["total"])),
            ("Alterado em", fmt_datetime(plan.updated_at)),
        ]),
        "Produtos:",
    ]
    if not data["items"]:
        lines.append("  nenhum produto.")
    else:
        rows = [
            (i["id"], i["product_id"], i["product"], i["kind"],
             f"{i['sva_package_code']} (integração {i['sva_integration_id']})" if i["sva_integration_id"] else "",
             fmt_money(i["effective_price"]) + ("" if i["price"] is not None else " (do produto)"))
            for i in data["items"]
        ]
        lines += ["  " + line for line in table(("Item", "Produto", "Descrição", "Tipo", "Pacote SVA", "Valor"), rows)]
    return lines


def _get(pk: int) -> SalesPlan:
    plan = plan_get(pk)
    if plan is None:
        raise NotFound("Plano de venda", "plan_not_found")
    return plan


class Command(AgregaCommand):
    help = "Planos de venda: cadastra, altera, lista, mostra e monta a lista de produtos."

    def add_subcommands(self, sub):
        listing = self.subcommand(sub, "list", self.cmd_list, help="Lista os planos de venda.")
        PlanFilterSet.add_arguments(listing)  # the same filters as the page and the API
        show = self.subcommand(sub, "show", self.cmd_show, help="Mostra um plano e seus produtos.")
        show.add_argument("id", type=int, help="ID do plano")

        create = self.subcommand(sub, "create", self.cmd_create, help="Cadastra um plano de venda.")
        create.add_argument("--name", required=True, metavar="NOME", help="nome do plano (único)")
        create.add_argument("--description", default="", metavar="TEXTO", help="descrição")
        create.add_argument("--item", dest="items", type=item_arg, action="append", default=[],
                            metavar="PRODUTO[:VALOR]",
                            help="produto do plano, com valor opcional (padrão: o do produto); repita")
        create.add_argument("--inactive", action="store_true", help="cadastra inativo (não oferecido)")
        self.add_actor(create)

        update = self.subcommand(sub, "update", self.cmd_update, help="Altera nome, descrição ou situação.")
        update.add_argument("id", type=int, help="ID do plano")
        update.add_argument("--name", metavar="NOME")
        update.add_argument("--description", metavar="TEXTO")
        state = update.add_mutually_exclusive_group()
        state.add_argument("--active", dest="active", action="store_const", const=True, help="oferece o plano")
        state.add_argument("--inactive", dest="active", action="store_const", const=False,
                           help="deixa de oferecer o plano")
        self.add_actor(update)

        add = self.subcommand(sub, "add-item", self.cmd_add_item, help="Inclui um produto no plano.")
        add.add_argument("id", type=int, help="ID do plano")
        add.add_argument("--product", dest="product_id", type=int, required=True, metavar="ID", help="ID do produto")
        add.add_argument("--price", metavar="VALOR", help="valor no plano (padrão: o do produto)")
        self.add_actor(add)

        remove = self.subcommand(sub, "remove-item", self.cmd_remove_item, help="Remove um produto do plano.")
        remove.add_argument("id", type=int, help="ID do plano")
        remove.add_argument("--item", dest="item_id", type=int, required=True, metavar="ID",
                            help="ID do item (coluna Item de `plan show`)")
        self.add_actor(remove)

        delete = self.subcommand(sub, "delete", self.cmd_delete,
                                 help="Exclui um plano que nenhum contrato usou.")
        delete.add_argument("id", type=int, help="ID do plano")
        self.add_actor(delete)

    def _emit(self, plan: SalesPlan, title: str | None = None) -> None:
        plan = _get(plan.pk)
        data = plan_data(plan)
        self.emit(data, lambda: ([title] if title else []) + plan_lines(plan, data))

    def cmd_list(self, **options):
        plans = list(PlanFilterSet(PlanFilterSet.from_options(options)).queryset())

        def lines():
            if not plans:
                return ["Nenhum plano de venda cadastrado."]
            rows = [(p.pk, p.name, fmt_bool(p.active), len(p.items.all()), fmt_money(plan_total(p)),
                     ", ".join(i.product.name for i in p.items.all())) for p in plans]
            return [*table(("ID", "Nome", "Ativo", "Produtos", "Valor mensal", "Itens"), rows),
                    f"{len(plans)} plano(s)."]

        self.emit([plan_data(p) for p in plans], lines)

    def cmd_show(self, *, id, **options):
        self._emit(_get(id))

    def cmd_create(self, *, name, description="", items=(), inactive=False, as_user=None, **options):
        plan = plan_create(name=name, description=description, active=not inactive, items=list(items),
                           actor=self.actor(as_user))
        self._emit(plan, f"Plano de venda {plan.pk} criado.")

    def cmd_update(self, *, id, as_user=None, **options):
        plan = plan_update(plan=id, actor=self.actor(as_user),
                           **self.given(options, ("name", "description", "active")))
        self._emit(plan, f"Plano de venda {plan.pk} alterado.")

    def cmd_add_item(self, *, id, product_id, price=None, as_user=None, **options):
        price = price or None
        item = plan_add_item(plan=id, product_id=product_id, price=price, actor=self.actor(as_user))
        self._emit(item.plan, f"Produto incluído no plano {id} (item {item.pk}).")

    def cmd_remove_item(self, *, id, item_id, as_user=None, **options):
        plan_remove_item(plan=id, item_id=item_id, actor=self.actor(as_user))
        self._emit(_get(id), f"Item {item_id} removido do plano {id}.")

    def cmd_delete(self, *, id, as_user=None, **options):
        plan = _get(id)
        plan_delete(plan=plan, actor=self.actor(as_user))
        self.emit({"id": id, "deleted": True}, [f"Plano de venda {id} ({plan.name}) excluído."])

"""``agrega product create|update|list|show``: produtos, com a aba SVA."""

from __future__ import annotations

from agrega.catalog.filtersets import ProductFilterSet
from agrega.catalog.models import Product
from agrega.catalog.services import product_create, product_update
from agrega.core.errors import NotFound
from agrega.core.management.base import (
    AgregaCommand,
    fmt_bool,
    fmt_datetime,
    fmt_money,
    key_values,
    table,
)

FIELDS = ("name", "price", "fiscal_class", "active", "sva_integration_id", "sva_package_code")


def product_data(product: Product) -> dict:
    return {
        "id": product.pk,
        "name": product.name,
        "price": product.price,
        "fiscal_class": product.fiscal_class,
        "active": product.active,
        "sva_integration_id": product.sva_integration_id,
        "sva_package_code": product.sva_package_code,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }


def _sva_tab(product: Product) -> str:
    if not product.is_sva:
        return "não é SVA"
    integration = f"integração {product.sva_integration_id} ({product.sva_integration})"
    return f"{integration}, pacote {product.sva_package_code}"


def product_lines(product: Product) -> list[str]:
    return [
        f"Produto {product.pk} — {product.name}",
        *key_values(
            [
                ("Valor", fmt_money(product.price)),
                ("Classe fiscal", product.get_fiscal_class_display()),
                ("Ativo", fmt_bool(product.active)),
                ("SVA", _sva_tab(product)),
                ("Criado em", fmt_datetime(product.created_at)),
                ("Alterado em", fmt_datetime(product.updated_at)),
            ]
        ),
    ]


def get_product(pk: int) -> Product:
    product = Product.objects.select_related("sva_integration").filter(pk=pk).first()
    if product is None:
        raise NotFound("Produto", "product_not_found")
    return product


def _upper(value: str) -> str:
    return value.strip().upper()


class Command(AgregaCommand):
    help = "Produtos: cadastra, altera, mostra e lista (aba SVA: integração e pacote)."

    def add_subcommands(self, sub):
        create = self.subcommand(sub, "create", self.cmd_create, help="Cadastra um produto.")
        self._options(create, creating=True)
        self.add_actor(create)
        update = self.subcommand(
            sub, "update", self.cmd_update, help="Altera um produto (só os campos informados)."
        )
        update.add_argument("id", type=int, help="ID do produto")
        self._options(update, creating=False)
        self.add_actor(update)
        listing = self.subcommand(sub, "list", self.cmd_list, help="Lista os produtos.")
        ProductFilterSet.add_arguments(listing)  # the same filters as the page and the API
        show = self.subcommand(sub, "show", self.cmd_show, help="Mostra um produto.")
        show.add_argument("id", type=int, help="ID do produto")

    @staticmethod
    def _options(parser, *, creating: bool):
        parser.add_argument("--name", metavar="DESCRICAO", help="descrição do produto")
        parser.add_argument("--price", metavar="VALOR", help="valor mensal, ex.: 19.90")
        parser.add_argument(
            "--fiscal-class",
            type=_upper,
            metavar="SCM|SVA|OUTRO",
            help="classe fiscal" + ("; padrão: OUTRO" if creating else ""),
        )
        parser.add_argument(
            "--sva-integration",
            dest="sva_integration_id",
            type=int,
            metavar="ID",
            help="aba SVA: ID da integração SVA",
        )
        parser.add_argument(
            "--sva-package",
            dest="sva_package_code",
            metavar="CODIGO",
            help="aba SVA: código do pacote SVA principal (veja `agrega integration packages ID`)",
        )
        state = parser.add_mutually_exclusive_group()
        state.add_argument(
            "--inactive",
            dest="active",
            action="store_const",
            const=False,
            help="produto inativo (não pode ser incluído em contratos)",
        )
        if not creating:
            state.add_argument(
                "--active",
                dest="active",
                action="store_const",
                const=True,
                help="reativa o produto",
            )
            parser.add_argument(
                "--no-sva",
                action="store_true",
                help="remove o vínculo SVA (integração e pacote) do produto",
            )

    def _print(self, product: Product, warnings: list[str], title: str) -> None:
        if self.json_mode:
            self.emit_json({**product_data(product), "warnings": warnings})
            return
        self.emit(None, [title, *product_lines(product)])
        for warning in warnings:
            self.warn(warning)

    def cmd_create(self, **options):
        product, warnings = product_create(actor=self.actor(options.get("as_user")), **self.given(options, FIELDS))
        self._print(product, warnings, "Produto criado.")

    def cmd_update(self, *, id, no_sva=False, **options):
        data = self.given(options, FIELDS)
        if no_sva:
            data.update(sva_integration_id=None, sva_package_code="")
        product, warnings = product_update(product=get_product(id), actor=self.actor(options.get("as_user")), **data)
        self._print(get_product(product.pk), warnings, "Produto alterado.")

    def cmd_list(self, **options):
        products = list(ProductFilterSet(ProductFilterSet.from_options(options)).queryset())

        def lines():
            if not products:
                return ["Nenhum produto encontrado."]
            rows = [
                (
                    p.pk,
                    p.name,
                    fmt_money(p.price),
                    p.fiscal_class,
                    fmt_bool(p.active),
                    p.sva_integration_id or "",
                    p.sva_package_code,
                )
                for p in products
            ]
            headers = (
                "ID",
                "Descrição",
                "Valor",
                "Classe",
                "Ativo",
                "Integração SVA",
                "Pacote SVA",
            )
            return [*table(headers, rows), f"{len(products)} produto(s)."]

        self.emit([product_data(p) for p in products], lines)

    def cmd_show(self, *, id, **options):
        product = get_product(id)
        self.emit(product_data(product), lambda: product_lines(product))

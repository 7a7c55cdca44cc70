"""``agrega customer create|update|show|list``: clientes."""

from __future__ import annotations

from agrega.core.errors import NotFound
from agrega.core.formats import format_document
from agrega.core.formats import format_phone as format_mobile
from agrega.core.management.base import AgregaCommand, fmt_datetime, key_values, positive_int, table
from agrega.customers.filtersets import CustomerFilterSet
from agrega.customers.models import Customer
from agrega.customers.services import customer_create, customer_update

# option dest -> help
FIELD_OPTIONS = {
    "name": "nome ou razão social",
    "document": "CPF ou CNPJ (com ou sem pontuação)",
    "email": "e-mail principal",
    "mobile_phone": "telefone celular com DDD, ex.: (11) 98765-4321",
    "street": "endereço (logradouro)",
    "number": "número",
    "district": "bairro",
    "city": "cidade",
    "state": "UF, ex.: SP",
    "zip_code": "CEP",
}


def customer_data(customer: Customer) -> dict:
    return {
        "id": customer.pk,
        "name": customer.name,
        "person_type": customer.person_type,
        "document": customer.document,
        "email": customer.email,
        "mobile_phone": customer.mobile_phone,
        "street": customer.street,
        "number": customer.number,
        "district": customer.district,
        "city": customer.city,
        "state": customer.state,
        "zip_code": customer.zip_code,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }


def _address(c: Customer) -> str:
    parts = [", ".join(p for p in (c.street, c.number, c.district) if p)]
    city = "/".join(p for p in (c.city, c.state) if p)
    if city:
        parts.append(city)
    if c.zip_code:
        parts.append(f"CEP {c.zip_code[:5]}-{c.zip_code[5:]}")
    return " — ".join(p for p in parts if p)


def customer_lines(c: Customer) -> list[str]:
    return [
        f"Cliente {c.pk} — {c.name} ({c.get_person_type_display()})",
        *key_values(
            [
                ("CPF/CNPJ", format_document(c.document)),
                ("E-mail principal", c.email),
                ("Telefone celular", format_mobile(c.mobile_phone)),
                ("Endereço", _address(c)),
                ("Criado em", fmt_datetime(c.created_at)),
                ("Alterado em", fmt_datetime(c.updated_at)),
            ]
        ),
    ]


def get_customer(pk: int) -> Customer:
    customer = Customer.objects.filter(pk=pk).first()
    if customer is None:
        raise NotFound("Cliente", "customer_not_found")
    return customer


class Command(AgregaCommand):
    help = "Clientes: cria, altera, mostra e lista."

    def add_subcommands(self, sub):
        create = self.subcommand(sub, "create", self.cmd_create, help="Cadastra um cliente.")
        self._field_options(create)
        self.add_actor(create)
        update = self.subcommand(
            sub,
            "update",
            self.cmd_update,
            help='Altera um cliente (só os campos informados; use "" para apagar um campo opcional).',
        )
        update.add_argument("id", type=int, help="ID do cliente")
        self._field_options(update)
        self.add_actor(update)
        show = self.subcommand(sub, "show", self.cmd_show, help="Mostra um cliente.")
        show.add_argument("id", type=int, help="ID do cliente")
        export = self.subcommand(sub, "export", self.cmd_export,
                                 help="LGPD: exporta em JSON tudo o que o Agrega guarda sobre o cliente.")
        export.add_argument("id", type=int, help="ID do cliente")
        anonymize = self.subcommand(sub, "anonymize", self.cmd_anonymize,
                                    help="LGPD: apaga os dados pessoais do cliente (mantém contratos e títulos).")
        anonymize.add_argument("id", type=int, help="ID do cliente")
        anonymize.add_argument("--reason", default="", help="motivo / referência do pedido do titular")
        self.add_actor(anonymize)
        listing = self.subcommand(sub, "list", self.cmd_list, help="Lista clientes.")
        CustomerFilterSet.add_arguments(listing)  # the same filters as the page and the API
        listing.add_argument(
            "--limit", type=positive_int, default=50, metavar="N", help="máximo (padrão 50)"
        )

    @staticmethod
    def _field_options(parser):
        for dest, text in FIELD_OPTIONS.items():
            parser.add_argument(
                "--" + dest.replace("_", "-"), dest=dest, metavar="VALOR", help=text
            )

    def cmd_create(self, **options):
        customer = customer_create(actor=self.actor(options.get("as_user")), **self.given(options, FIELD_OPTIONS))
        self.emit(customer_data(customer), lambda: ["Cliente criado.", *customer_lines(customer)])

    def cmd_update(self, *, id, **options):
        customer = customer_update(
            customer=get_customer(id), actor=self.actor(options.get("as_user")), **self.given(options, FIELD_OPTIONS)
        )
        self.emit(customer_data(customer), lambda: ["Cliente alterado.", *customer_lines(customer)])

    def cmd_show(self, *, id, **options):
        customer = get_customer(id)
        self.emit(customer_data(customer), lambda: customer_lines(customer))

    def cmd_export(self, *, id, **options):
        from agrega.customers.privacy import customer_personal_data

        self.emit_json(customer_personal_data(customer_id=id))

    def cmd_anonymize(self, *, id, reason="", **options):
        from agrega.customers.privacy import customer_anonymize

        customer = customer_anonymize(customer_id=id, actor=self.actor(options.get("as_user")), reason=reason)
        self.emit(customer_data(customer), [f"Cliente {customer.pk} anonimizado; contratos e títulos mantidos."])

    def cmd_list(self, *, limit=50, **options):
        customers = list(CustomerFilterSet(CustomerFilterSet.from_options(options)).queryset()[:limit])

        def lines():
            if not customers:
                return ["Nenhum cliente encontrado."]
            rows = [
                (c.pk, c.name, format_document(c.document), c.email, format_mobile(c.mobile_phone))
                for c in customers
            ]
            return [
                *table(("ID", "Nome", "CPF/CNPJ", "E-mail", "Celular"), rows),
                f"{len(customers)} cliente(s).",
            ]

        self.emit([customer_data(c) for c in customers], lines)

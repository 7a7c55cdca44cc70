"""Demo data: logins admin, operador and leitura (password agrega-demo), an API token,
an integration on the local sandbox of the default platform (its connector's ``DemoKit``,
integrations/connectors/registry.py), products, customers and contracts in several
states. Safe to run again."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from agrega.catalog.models import Product
from agrega.catalog.services import product_create
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_add_product, contract_create, contract_transition
from agrega.core.br import make_cnpj, make_cpf
from agrega.core.management.base import PortugueseCommand
from agrega.core.models import ApiToken
from agrega.core.roles import Role, assign_role
from agrega.customers.models import Customer
from agrega.customers.services import customer_create
from agrega.integrations.connectors.registry import connector_class, default_platform, demo_kit
from agrega.integrations.models import SvaIntegration
from agrega.integrations.services import integration_create

CUSTOMERS = [
    # name, document seed (CPF unless company), e-mail, celular, city, final contract state
    ("Maria Aparecida Souza", 1, "maria.souza@example.com.br", "(11) 98765-4321", "São Paulo", "active"),
    ("João Pedro Lima", 2, "joao.lima@example.com.br", "(21) 99876-5432", "Rio de Janeiro", "overdue"),
    ("Ana Beatriz Costa", 3, "ana.costa@example.com.br", "(31) 98888-1234", "Belo Horizonte", "blocked"),
    ("Carlos Eduardo Ramos", 4, "carlos.ramos@example.com.br", "(41) 99777-2233", "Curitiba", "inactive"),
    ("Fernanda Oliveira", 5, "fernanda.o@example.com.br", "", "Porto Alegre", "active"),  # sem celular
    ("Padaria Pão Quente Ltda", -6, "contato@paoquente.example.com.br", "(51) 98123-4567", "Canoas", "pre"),
]


class Command(PortugueseCommand):
    help = "Cria os dados de demonstração (login admin/agrega-demo, integração no sandbox local)."

    def add_arguments(self, parser):
        parser.add_argument("--sandbox-url", default="http://127.0.0.1:8765", metavar="URL",
                            help="endereço do sandbox da plataforma SVA (padrão: http://127.0.0.1:8765)")

    def handle(self, *args, sandbox_url, **options):
        platform = default_platform()
        kit = demo_kit(platform)
        # a new demo database: the demo's own sandbox starts empty too, or users left
        # there by an earlier demo (same e-mails) would refuse the new ones
        account = kit.open_account(sandbox_url, reset=not Contract.objects.exists())

        User = get_user_model()
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            admin = User.objects.create_superuser("admin", "admin@example.com.br", "agrega-demo")
        assign_role(admin, Role.ADMIN)
        for username, role in (("operador", Role.OPERATOR), ("leitura", Role.READONLY)):
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(username, f"{username}@example.com.br", "agrega-demo")
            assign_role(user, role)
        token_file = Path(settings.VAR_DIR) / "demo-token.txt"
        if not token_file.exists() or not ApiToken.objects.filter(name="demo", revoked_at__isnull=True).exists():
            _, raw = ApiToken.issue(user=admin, name="demo")
            token_file.write_text(raw + "\n")

        integration = SvaIntegration.objects.filter(
            platform=platform, base_url=account["base_url"], prefix=account["prefix"]).first()
        if integration is None:
            integration = integration_create(
                name=connector_class(platform).label, platform=platform, auto_create_users=True, **account,
            )
        internet = Product.objects.filter(name="Internet Fibra 300 Mega").first() or product_create(
            name="Internet Fibra 300 Mega", price="99.90", fiscal_class="SCM")[0]
        sva = {}
        for package in kit.packages:
            sva[package["code"]] = Product.objects.filter(
                sva_integration=integration, sva_package_code=package["code"]
            ).first() or product_create(
                name=package["name"], price="9.90", fiscal_class="SVA",
                sva_integration_id=integration.pk, sva_package_code=package["code"],
            )[0]

        if Contract.objects.exists():
            self.stdout.write("Dados de demonstração já existem.")
            return
        demo_states: dict[int, str] = {}
        for name, seed, email, phone, city, final in CUSTOMERS:
            document = make_cnpj(-seed) if seed < 0 else make_cpf(seed)
            customer = Customer.objects.filter(document=document).first() or customer_create(
                name=name, document=document, email=email, mobile_phone=phone, city=city,
            )
            contract = contract_create(customer_id=customer.pk, billing_day=10, description="Plano residencial")
            contract_add_product(contract=contract, product_id=internet.pk, actor=admin)
            # the kit's second package for even seeds, its first for odd ones
            package = kit.packages[1 if seed % 2 == 0 else 0]["code"]
            contract_add_product(contract=contract, product_id=sva[package].pk, actor=admin)
            if final == "pre":
                continue
            contract_transition(contract=contract, action="activate", actor=admin)
            follow = {"blocked": ["block_manual"], "inactive": ["deactivate"]}
            for action in follow.get(final, []):
                contract_transition(contract=contract, action=action, actor=admin)
            demo_states[contract.pk] = final
        self._billing(demo_states, admin)
        self.stdout.write(self.style.SUCCESS("Dados de demonstração criados."))

    def _billing(self, demo_states: dict[int, str], admin) -> None:
        """Two months of títulos: the previous month paid by all, this month paid by
        some; the "overdue" customer owes a título more than 15 days late, so the régua
        (Anatel) suspends the contract (FA) and its SVA user is blocked. Tax rates for the report."""
        from datetime import datetime, time, timedelta

        from django.utils import timezone

        from agrega.billing.models import Invoice, TaxRate
        from agrega.billing.services import billing_run, payment_register
        from agrega.dunning.services import dunning_sweep

        for fiscal_class, tax, rate in (("SCM", "ICMS", "25"), ("SCM", "PIS", "0.65"), ("SCM", "COFINS", "3"),
                                        ("SCM", "FUST", "1"), ("SCM", "FUNTTEL", "0.5"), ("SVA", "ISS", "5"),
                                        ("SVA", "PIS", "0.65"), ("SVA", "COFINS", "3")):
            TaxRate.objects.update_or_create(fiscal_class=fiscal_class, tax=tax, defaults={"rate": rate})
        today = timezone.localdate()
        this_month = today.replace(day=1)
        last_month = (this_month - timedelta(days=1)).replace(day=1)
        # the contracts started two months ago, so both months are whole months
        started = timezone.now() - timedelta(days=today.day + 40)
        Contract.objects.filter(pk__in=list(demo_states), activated_at__isnull=False).update(activated_at=started)
        # and were entered before they started (a contract created after its activation reads wrong)
        Contract.objects.filter(pk__in=list(demo_states)).update(created_at=started - timedelta(days=1))
        Customer.objects.filter(contracts__pk__in=list(demo_states)).update(created_at=started - timedelta(days=2))
        for contract in Contract.objects.filter(pk__in=list(demo_states)):
            contract.products.update(added_at=started)
        # each month billed on its first day, as an ISP's monthly run would have: the
        # títulos are due on the billing day (billed today, the first-título notice of
        # AGREGA_FIRST_DUE_MIN_DAYS would move them past today and nothing would be late)
        for period in (last_month, this_month):
            issued = timezone.make_aware(datetime.combine(period, time(8)))
            billing_run(period=period, actor=admin, today=period, now=issued)
        for invoice in Invoice.objects.filter(contract_id__in=list(demo_states)).order_by("due_date"):
            late_payer = demo_states[invoice.contract_id] == "overdue"
            if invoice.period == this_month and (late_payer or invoice.due_date >= today):
                continue  # not paid yet (and, for the late payer, overdue)
            if late_payer and today.day < 26:
                continue  # early in the month: last month's is the one 16+ days late

            payment_register(invoice_id=invoice.pk, amount=invoice.amount, paid_on=min(invoice.due_date, today),
                             provider="demo", external_id=f"demo-{invoice.pk}", actor=admin)
        dunning_sweep()

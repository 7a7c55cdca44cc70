"""Demo data: logins admin, operador and leitura (password agrega-demo), an API token,
an EXA integration on the local sandbox, products, customers and contracts in several
states. Safe to run again."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from agrega.catalog.models import Product
from agrega.catalog.services import product_create
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_add_product, contract_create, contract_transition
from agrega.core.br import make_cnpj, make_cpf
from agrega.core.models import ApiToken
from agrega.core.roles import Role, assign_role
from agrega.customers.models import Customer
from agrega.customers.services import customer_create
from agrega.integrations.models import SvaIntegration
from agrega.integrations.services import integration_create

DEMO_PREFIX = "provedor-demo"
DEMO_CLIENT_ID = "agrega-demo"
DEMO_CLIENT_SECRET = "demo-secret-troque-me"
DEMO_PACKAGES = [
    {"code": "EXA-SEG-BASICO", "name": "EXA Segurança Básico", "description": "Proteção de apps e dados"},
    {"code": "EXA-SEG-FAMILIA", "name": "EXA Família", "description": "Gestão digital familiar"},
    {"code": "EXA-BACKUP-100", "name": "EXA Backup 100 GB", "description": "Backup em nuvem"},
]

CUSTOMERS = [
    # name, document seed (CPF unless company), e-mail, celular, city, final contract state
    ("Maria Aparecida Souza", 1, "maria.souza@example.com.br", "(11) 98765-4321", "São Paulo", "active"),
    ("João Pedro Lima", 2, "joao.lima@example.com.br", "(21) 99876-5432", "Rio de Janeiro", "overdue"),
    ("Ana Beatriz Costa", 3, "ana.costa@example.com.br", "(31) 98888-1234", "Belo Horizonte", "blocked"),
    ("Carlos Eduardo Ramos", 4, "carlos.ramos@example.com.br", "(41) 99777-2233", "Curitiba", "inactive"),
    ("Fernanda Oliveira", 5, "fernanda.o@example.com.br", "", "Porto Alegre", "active"),  # sem celular
    ("Padaria Pão Quente Ltda", -6, "contato@paoquente.example.com.br", "(51) 98123-4567", "Canoas", "pre"),
]


class Command(BaseCommand):
    help = "Cria os dados de demonstração (login admin/agrega-demo, integração EXA no sandbox local)."

    def add_arguments(self, parser):
        parser.add_argument("--sandbox-url", default="http://127.0.0.1:8765")

    def handle(self, *args, sandbox_url, **options):
        import httpx

        httpx.post(f"{sandbox_url}/_sandbox/partners", json={
            "prefix": DEMO_PREFIX, "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
            "packages": DEMO_PACKAGES,
        }, timeout=10).raise_for_status()

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

        integration = SvaIntegration.objects.filter(prefix=DEMO_PREFIX).first()
        if integration is None:
            integration = integration_create(
                name="EXA", platform="exa", base_url=sandbox_url, prefix=DEMO_PREFIX,
                auto_create_users=True,
                credentials={"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET},
            )
        internet = Product.objects.filter(name="Internet Fibra 300 Mega").first() or product_create(
            name="Internet Fibra 300 Mega", price="99.90", fiscal_class="SCM")[0]
        sva = {}
        for package in DEMO_PACKAGES:
            sva[package["code"]] = Product.objects.filter(
                sva_integration=integration, sva_package_code=package["code"]
            ).first() or product_create(
                name=package["name"], price="9.90", fiscal_class="SVA",
                sva_integration_id=integration.pk, sva_package_code=package["code"],
            )[0]

        if Contract.objects.exists():
            self.stdout.write("Dados de demonstração já existem.")
            return
        for name, seed, email, phone, city, final in CUSTOMERS:
            document = make_cnpj(-seed) if seed < 0 else make_cpf(seed)
            customer = Customer.objects.filter(document=document).first() or customer_create(
                name=name, document=document, email=email, mobile_phone=phone, city=city,
            )
            contract = contract_create(customer_id=customer.pk, billing_day=10, description="Plano residencial")
            contract_add_product(contract=contract, product_id=internet.pk, actor=admin)
            package = "EXA-SEG-FAMILIA" if seed % 2 == 0 else "EXA-SEG-BASICO"
            contract_add_product(contract=contract, product_id=sva[package].pk, actor=admin)
            if final == "pre":
                continue
            contract_transition(contract=contract, action="activate", actor=admin)
            follow = {"overdue": ["mark_overdue"], "blocked": ["block_manual"], "inactive": ["deactivate"]}
            for action in follow.get(final, []):
                contract_transition(contract=contract, action=action, actor=admin)
        self.stdout.write(self.style.SUCCESS("Dados de demonstração criados."))

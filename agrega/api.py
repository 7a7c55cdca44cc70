"""The REST API: one NinjaAPI mounting a router per domain app; OpenAPI at /api/openapi.json."""

from agrega.billing.api import billing_router
from agrega.billing.api import contract_router as contract_billing_router
from agrega.billing.api import invoices_router as billing_invoices_router
from agrega.billing.api import payments_router as billing_payments_router
from agrega.billing.taxes.api import reports_router, tax_rates_router
from agrega.campaigns.api import router as campaigns_router
from agrega.catalog.api import router as products_router
from agrega.consent.api import contract_router as contract_consents_router
from agrega.consent.api import reports_router as consent_reports_router
from agrega.consent.api import router as consents_router
from agrega.contracts.api import router as contracts_router
from agrega.core.api import AUTH, AgregaNinjaAPI, install_error_handlers
from agrega.core.tasks_api import router as tasks_router
from agrega.core.tokens_api import router as tokens_router
from agrega.core.users_api import router as users_router
from agrega.customers.api import router as customers_router
from agrega.dunning.api import router as dunning_router
from agrega.fiscal.api import fiscal_router, nfcom_router
from agrega.dunning.api import contract_router as contract_dunning_router
from agrega.dunning.api import sweeps_router as dunning_sweeps_router
from agrega.imports.api import router as imports_router
from agrega.integrations.api import router as integrations_router
from agrega.pix.api import contract_router as contract_pix_router
from agrega.pix.api import invoice_router as invoice_pix_router
from agrega.pix.api import router as pix_accounts_router
from agrega.plans.api import contract_router as contract_from_plan_router
from agrega.plans.api import router as plans_router
from agrega.sva.api import contract_router as contract_sva_users_router
from agrega.sva.api import router as sva_users_router
from agrega.sva.reconcile.api import integration_router as integration_reconcile_router
from agrega.sva.reconcile.api import router as reconciliations_router

api = AgregaNinjaAPI(
    title="Agrega API",
    version="1",
    description=(
        "Clientes, produtos, contratos, integrações SVA e usuários SVA. "
        "Autentique com `Authorization: Bearer <token>` (crie um com `agrega create-token`). "
        "Erros: `{\"error\": {\"code\", \"message\", \"fields\"}}` com códigos estáveis."
    ),
    auth=AUTH,
    urls_namespace="api",
)
install_error_handlers(api)

# One router per domain app (agrega/<app>/api.py).
api.add_router("/customers", customers_router)
api.add_router("/integrations", integrations_router)
api.add_router("/products", products_router)
api.add_router("/contracts", contract_from_plan_router)  # before contracts: "from-plan" is no contract id
api.add_router("/contracts", contracts_router)
api.add_router("/contracts", contract_sva_users_router)
api.add_router("/sva-users", sva_users_router)
api.add_router("/integrations", integration_reconcile_router)
api.add_router("/reconciliations", reconciliations_router)
api.add_router("/tokens", tokens_router)
api.add_router("/tasks", tasks_router)
api.add_router("/users", users_router)
api.add_router("/imports", imports_router)
api.add_router("/campaigns", campaigns_router)
api.add_router("/invoices", billing_invoices_router)
api.add_router("/payments", billing_payments_router)
api.add_router("/billing", billing_router)
api.add_router("/contracts", contract_billing_router)
api.add_router("/contracts", contract_dunning_router)
api.add_router("/tax-rates", tax_rates_router)
api.add_router("/reports", reports_router)
api.add_router("/dunning", dunning_router)
api.add_router("/dunning-sweeps", dunning_sweeps_router)
api.add_router("/plans", plans_router)
api.add_router("/contracts", contract_consents_router)
api.add_router("/consents", consents_router)
api.add_router("/reports", consent_reports_router)
api.add_router("/nfcom", nfcom_router)
api.add_router("/fiscal", fiscal_router)
api.add_router("/pix-accounts", pix_accounts_router)
api.add_router("/invoices", invoice_pix_router)
api.add_router("/contracts", contract_pix_router)

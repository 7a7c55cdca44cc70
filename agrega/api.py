"""The REST API: one NinjaAPI mounting a router per domain app; OpenAPI at /api/openapi.json."""

from ninja import NinjaAPI

from agrega.catalog.api import router as products_router
from agrega.contracts.api import router as contracts_router
from agrega.core.api import AUTH, install_error_handlers
from agrega.core.tokens_api import router as tokens_router
from agrega.customers.api import router as customers_router
from agrega.integrations.api import router as integrations_router
from agrega.sva.api import contract_router as contract_sva_users_router
from agrega.sva.api import router as sva_users_router

api = NinjaAPI(
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
api.add_router("/contracts", contracts_router)
api.add_router("/contracts", contract_sva_users_router)
api.add_router("/sva-users", sva_users_router)
api.add_router("/tokens", tokens_router)

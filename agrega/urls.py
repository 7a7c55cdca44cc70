from django.contrib import admin
from django.urls import include, path, register_converter

from agrega.api import api
from agrega.core.params import IdConverter
from agrega.dunning import urls as dunning_urls

register_converter(IdConverter, "id")  # before the apps' urls below are read

admin.site.site_header = "Agrega — administração"
admin.site.site_title = "Agrega"
admin.site.index_title = "Cadastros"

urlpatterns = [
    path("", include("agrega.ops.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("clientes/", include("agrega.customers.urls")),
    path("produtos/", include("agrega.catalog.urls")),
    path("contratos/", include("agrega.contracts.urls")),
    path("importacoes/", include("agrega.imports.urls")),
    path("campanhas-sva/", include("agrega.campaigns.urls")),
    path("usuarios-sva/", include("agrega.sva.urls")),
    path("configuracoes/integracoes-sva/", include("agrega.integrations.urls")),
    path("configuracoes/integracoes-sva/", include("agrega.sva.reconcile.urls")),
    path("configuracoes/integracoes-sva/<int:integration_pk>/avisos/", include("agrega.notices.urls")),
    path("planos-de-venda/", include("agrega.plans.urls")),
    path("consentimentos/", include("agrega.consent.urls")),
    path("financeiro/", include("agrega.billing.urls")),
    path("financeiro/", include(dunning_urls.contract_urlpatterns)),
    path("configuracoes/regua-de-cobranca/", include("agrega.dunning.urls")),
    path("configuracoes/usuarios/", include("agrega.web.users.urls")),
    path("", include("agrega.pix.urls")),  # configuracoes/contas-pix/, pix/webhook/
    path("", include("agrega.billing.taxes.urls")),  # configuracoes/tributos/, financeiro/receita/
    path("", include("agrega.fiscal.urls")),  # configuracoes/fiscal/, financeiro/nfcom/
    path("", include("agrega.web.urls")),
]

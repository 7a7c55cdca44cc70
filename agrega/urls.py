from django.contrib import admin
from django.urls import include, path

from agrega.api import api

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
    path("usuarios-sva/", include("agrega.sva.urls")),
    path("configuracoes/integracoes-sva/", include("agrega.integrations.urls")),
    path("", include("agrega.web.urls")),
]

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import path

from agrega.api import api

admin.site.site_header = "Agrega — administração"
admin.site.site_title = "Agrega"
admin.site.index_title = "Cadastros"

urlpatterns = [
    path("", lambda request: HttpResponseRedirect("/api/docs")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]

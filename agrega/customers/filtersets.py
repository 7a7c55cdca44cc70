"""The customers list's filters, declared once for the page (Clientes: the search box),
the API (``GET /api/customers``) and the CLI (``agrega customer list``): see
core/filtersets.py."""

from __future__ import annotations

from django.db import models
from django.db.models import QuerySet

from agrega.core.br import clean_document
from agrega.core.filtersets import CHOICE, Filter, FilterSet

from .models import Customer
from .selectors import customer_match
from .services import UF

# The 27 UFs as a closed set: an unknown one is refused, never an empty list.
StateChoices = models.TextChoices("StateChoices", [(uf, uf) for uf in sorted(UF)])


def _state(text: str) -> str:
    return text.strip().upper()


class CustomerFilterSet(FilterSet):
    filters = (
        Filter("q", "Busca: palavras do nome (sem acentos), e-mail, CPF/CNPJ ou celular", method="search",
               metavar="TEXTO", option="--q", input_type="search", placeholder="Nome, CPF/CNPJ, e-mail ou celular"),
        # a whole CPF/CNPJ typed any way; an invalid one is refused with its reason
        # (``cpf_invalid``, ``document_invalid_character``…), as on the customer's form
        Filter("document", "CPF/CNPJ (completo)", parser=clean_document, parser_codes=True, max_length=30,
               metavar="CPF/CNPJ"),
        Filter("city", "Cidade", lookup="city__iexact", max_length=100, metavar="CIDADE"),
        Filter("state", "UF", CHOICE, choices=StateChoices, normalize=_state, metavar="UF", coded=False,
               all_label="Todas"),
    )
    invalid_message = "Filtros de clientes inválidos."

    def base(self) -> QuerySet[Customer]:
        return Customer.objects.order_by("id")

    def search(self, queryset: QuerySet[Customer], text: str) -> QuerySet[Customer]:
        """The search box's rule (``customers.selectors.search_terms``)."""
        match = customer_match(text)
        return queryset if match is None else queryset.filter(match)

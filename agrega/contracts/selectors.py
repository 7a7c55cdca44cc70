"""Reads for contracts: the filtered list, one contract with its products, its Histórico."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .models import Contract, ContractEvent, ContractProduct


def contract_list(
    *,
    status: str | None = None,
    access_status: str | None = None,
    customer_id: int | None = None,
) -> QuerySet[Contract]:
    qs = Contract.objects.select_related("customer")
    if status:
        qs = qs.filter(status=status)
    if access_status:
        qs = qs.filter(access_status=access_status)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return qs.order_by("id")


def contract_get(pk: int) -> Contract | None:
    """The contract with its customer, every product it ever held (removed ones too) and
    its SVA users (through the reverse relation, so this app need not import ``sva``)."""
    return (
        Contract.objects.select_related("customer")
        .prefetch_related(
            Prefetch(
                "products",
                queryset=ContractProduct.objects.select_related("product").order_by("id"),
            ),
            "sva_users__contract_product__product",
        )
        .filter(pk=pk)
        .first()
    )


def contract_exists(pk: int) -> bool:
    return Contract.objects.filter(pk=pk).exists()


def contract_event_list(*, contract_id: int) -> QuerySet[ContractEvent]:
    return ContractEvent.objects.filter(contract_id=contract_id)

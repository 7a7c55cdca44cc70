"""Reads for contracts: the filtered list, one contract with its products, its Histórico."""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet

from . import sql
from .filtersets import ContractFilterSet
from .models import Contract, ContractEvent, ContractProduct


def contract_list(
    *,
    status: str | None = None,
    access_status: str | None = None,
    customer_id: int | None = None,
    customer_q: str | None = None,
) -> QuerySet[Contract]:
    """The list as ``ContractFilterSet`` (contracts/filtersets.py) filters it — the same
    declaration the page's filter bar and the CLI's options come from. ``customer_q`` finds
    the customer as the customers' search box does."""
    return ContractFilterSet.filtered({"status": status or None, "access_status": access_status or None,
                                       "customer_id": customer_id, "q": (customer_q or "").strip() or None})


def contract_summaries(
    *,
    status: str | None = None,
    access_status: str | None = None,
    customer_id: int | None = None,
    customer_q: str | None = None,
) -> QuerySet[Contract]:
    """``contract_list`` for a list that shows only the customer's name: annotated as
    ``customer_name`` instead of a whole customer row read and built into a model for
    every contract of the page (bench/README.md, "api_load")."""
    return contract_list(
        status=status, access_status=access_status, customer_id=customer_id, customer_q=customer_q
    ).select_related(None).annotate(customer_name=F("customer__name"))


def contract_summary_page(*, cursor: int | None, limit: int, **filters) -> tuple[list[dict], int | None]:
    """A keyset page of the contract list as dicts of ``sql.SUMMARY_COLUMNS`` and the
    next page's cursor. Unfiltered (the API's hot read, a cursor walk) it is hand-written
    SQL (``sql.contract_summary_rows``, no query to build and compile per request); with
    any filter it is the ORM's ``contract_summaries`` (``core.api.keyset_page``), as the
    filters are ``ContractFilterSet``'s."""
    from agrega.core.api import MAX_LIMIT, keyset_page, page_of

    if any(value is not None for value in filters.values()):
        return keyset_page(contract_summaries(**filters).values(*sql.SUMMARY_COLUMNS), cursor=cursor, limit=limit)
    limit = max(1, min(limit, MAX_LIMIT))
    return page_of(sql.contract_summary_rows(cursor, limit + 1), limit)


def contract_detail(pk: int) -> Contract | None:
    """The contract the API's detail shows (``sql.contract_detail``: hand-written SQL for
    what ``contract_with_customer``, ``contract_products_of`` and ``contract_sva_users_of``
    read), with ``product_list`` and ``sva_user_list``; None when there is none."""
    return sql.contract_detail(pk)


def contract_get(pk: int) -> Contract | None:
    """The contract with its customer, every product it ever held (removed ones too) and
    its SVA users (through the reverse relation, so this app need not import ``sva``),
    each with its product joined in the same query."""
    return (
        Contract.objects.select_related("customer")
        .prefetch_related(
            Prefetch(
                "products",
                queryset=ContractProduct.objects.select_related("product").order_by("id"),
            ),
            Prefetch("sva_users", queryset=_sva_users_with_product()),
        )
        .filter(pk=pk)
        .first()
    )


# The contract detail's three reads, one query each (the API and contract_get share them;
# docs/decisions/0009-prepared-statements.md for why they are no longer compiled once).

def contract_with_customer(pk: int) -> QuerySet[Contract]:
    return Contract.objects.select_related("customer").filter(pk=pk)[:1]


def contract_products_of(contract_id: int) -> QuerySet[ContractProduct]:
    """Every product the contract ever held (removed ones too), with the product."""
    return ContractProduct.objects.select_related("product").filter(contract_id=contract_id).order_by("id")


def contract_sva_users_of(contract_id: int) -> QuerySet:
    """The contract's SVA users, each with its product."""
    return _sva_users_with_product().filter(contract_id=contract_id)


def _sva_users_with_product() -> QuerySet:
    """SVA users (through the reverse relation, so this app need not import ``sva``) with
    their product and whether they wait in the worker's queue, annotated ``pending`` as
    ``sva.selectors.sva_user_queryset`` does: the sync status reads it instead of one
    query per user."""
    sva_user_model = Contract._meta.get_field("sva_users").related_model
    queue = sva_user_model._meta.get_field("pending_work").related_model
    return sva_user_model.objects.select_related("contract_product__product").annotate(
        pending=Exists(queue.objects.filter(sva_user=OuterRef("pk"))))


def contract_exists(pk: int) -> bool:
    return Contract.objects.filter(pk=pk).exists()


def contract_event_list(*, contract_id: int) -> QuerySet[ContractEvent]:
    return ContractEvent.objects.filter(contract_id=contract_id)


def contract_actions(contract: Contract) -> list:
    """The status actions (``transitions.TRANSITIONS``) valid for the contract as it is now."""
    from .transitions import TRANSITIONS

    from django.utils import timezone

    from .choices import ContractAction

    overdue = contract.oldest_open_due is not None and contract.oldest_open_due < timezone.localdate()
    return [rule for rule in TRANSITIONS.values() if rule.allows(contract.status, contract.access_status)
            and (rule.action != ContractAction.RESCIND or overdue)]

"""Contract actions. Each is one transaction: lock the row, check the transition, change
statuses, bump ``version``, write the Histórico event and let listeners (SVA) record
their intent. An invalid transition raises and changes nothing."""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from agrega.catalog.models import Product
from agrega.core.errors import ApplicationError, Conflict, FieldError, FieldErrors, InvalidTransition, NotFound
from agrega.core.money import AmountInvalid, parse_amount
from agrega.core.text import clean_text_into
from agrega.customers.models import Customer
from agrega.integrations.connectors.registry import platform_allows

from .choices import AccessStatus as AS
from .choices import ContractAction as Act
from .choices import ContractStatus as CS
from .choices import ProductKind
from .models import Contract, ContractEvent, ContractProduct
from .signals import contract_activated, contract_product_added, contract_product_removed, contracts_changed
from .transitions import TRANSITIONS, Transition, actor_fields  # noqa: F401  (the table lives in contracts.transitions)


def _actor_fields(actor) -> dict:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor": None, "actor_label": "sistema"}
    return {"actor": actor, "actor_label": actor.get_username()}


def _event(contract: Contract, action: str, *, actor, before: tuple[str, str], detail: dict | None = None):
    ContractEvent.objects.create(
        contract=contract,
        action=action,
        from_status=before[0],
        to_status=contract.status,
        from_access_status=before[1],
        to_access_status=contract.access_status,
        detail=detail or {},
        **_actor_fields(actor),
    )


# Histórico entries written by other apps about the contract, without changing it.
NOTE_ACTIONS = frozenset({Act.CONSENT_RECORDED, Act.CONSENT_REVOKED, Act.DUNNING_NOTICE})


def contract_history_note(*, contract: Contract | int, action: str, detail: dict, actor=None) -> None:
    """Add to the contract's Histórico something another app did about it (a consent
    recorded or revoked): the contract's statuses are the same before and after."""
    if action not in NOTE_ACTIONS:
        raise ApplicationError("action_unknown", f"Ação desconhecida: {action}.")
    if not isinstance(contract, Contract):
        contract = Contract.objects.only("status", "access_status").get(pk=contract)
    _event(contract, action, actor=actor, before=(contract.status, contract.access_status), detail=detail)


def _locked_query(pk: int):
    # The customer comes in the same query (answers show it); only the contract row is locked.
    return Contract.objects.select_for_update(of=("self",)).select_related("customer").filter(pk=pk)[:1]



def _locked(contract: Contract | int) -> Contract:
    pk = contract.pk if isinstance(contract, Contract) else contract
    if connection.vendor == "postgresql" and transaction.get_autocommit():  # as the ORM refuses
        raise transaction.TransactionManagementError("select_for_update cannot be used outside of a transaction.")
    found = list(_locked_query(pk))
    if not found:
        raise NotFound("Contrato", "contract_not_found")
    return found[0]


def _bump(contract: Contract) -> None:
    """Called on a row ``_locked`` holds, so the version read with the lock is current."""
    contract.version += 1
    Contract.objects.filter(pk=contract.pk).update(version=contract.version)


@transaction.atomic
def contract_create(*, customer_id: int, billing_day: int = 10, description: str = "", actor=None,
                    sales_plan_id: int | None = None) -> Contract:
    """A pre-contract of the customer; ``sales_plan_id``: the plan it was sold from (the
    plans app checked the plan and adds its products)."""
    errors = FieldErrors()
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        errors.add("customer_id", "customer_not_found", "Cliente não encontrado.")
    if not isinstance(billing_day, int) or not 1 <= billing_day <= 31:
        errors.add("billing_day", "billing_day_invalid", "Dia de vencimento deve estar entre 1 e 31.")
    description = clean_text_into(errors, "description", Contract, "description", description, label="Descrição")
    errors.raise_if_any()
    contract = Contract.objects.create(customer=customer, billing_day=billing_day, description=description,
                                       sales_plan_id=sales_plan_id)
    _event(contract, Act.CREATE, actor=actor, before=("", ""))
    return contract


def contracts_lower_open_due(contracts_by_due: dict) -> None:
    """New open títulos (the billing run: {due date: contract ids}) make each contract's
    oldest open due date ``min(oldest_open_due, due)``; contracts that already owe
    something older are not written at all. Race-free: under READ COMMITTED the WHERE is
    re-checked on the row a concurrent payment just committed, so a payment is never
    undone. On PostgreSQL the ids go as one array (``contracts.sql.lower_open_due``)."""
    from django.db import connection
    from django.db.models import Q

    from . import sql

    for due, ids in contracts_by_due.items():
        if connection.vendor == "postgresql":
            sql.lower_open_due(due, ids)
            continue
        for start in range(0, len(ids), 10000):
            Contract.objects.filter(pk__in=ids[start:start + 10000]).filter(
                Q(oldest_open_due__isnull=True) | Q(oldest_open_due__gt=due)
            ).update(oldest_open_due=due)


def contracts_set_open_due(contract_ids, oldest) -> None:
    """Set ``oldest_open_due`` of the contracts to ``oldest``: an expression on each
    contract's row given by the app that keeps what it owes (billing: the earliest due
    date of its open títulos, a ``Subquery`` on ``OuterRef("pk")``). One UPDATE per
    10,000 contracts."""
    ids = list(contract_ids)
    for start in range(0, len(ids), 10000):
        Contract.objects.filter(pk__in=ids[start:start + 10000]).update(oldest_open_due=oldest)


def contracts_create_many(*, contracts: list[dict], actor=None) -> list[tuple[int, list[int]]]:
    """Pre-contracts in bulk (the CSV import), with their products and Histórico, in one
    INSERT per table: no per-contract work. Each of ``contracts``: ``customer`` (id),
    ``billing_day``, ``description``, ``sales_plan`` (id or None), ``detail`` (of its
    creation event) and ``products``: dicts of ``product`` (id), ``name``, ``kind``,
    ``price``, ``sva_account_customer``/``sva_account_integration``. The caller checked
    them (and holds the transaction); the account constraint may still refuse an item.
    Returns (contract id, [item ids]) per contract, in order."""
    from agrega.core.bulk import insert_dicts

    actor_id, label = actor_fields(actor)
    ids = [pk for (pk,) in insert_dicts(Contract, [
        {"customer": c["customer"], "billing_day": c["billing_day"], "description": c["description"],
         "sales_plan": c.get("sales_plan"), "version": 1 + len(c["products"]),
         "status": CS.PRE_CONTRACT, "access_status": AS.AWAITING_SIGNATURE} for c in contracts])]
    pairs = [(pk, p) for pk, c in zip(ids, contracts) for p in c["products"]]
    item_ids = [pk for (pk,) in insert_dicts(ContractProduct, [
        {"contract": pk, "product": p["product"], "kind": p["kind"], "price": p["price"],
         "sva_account_customer": p.get("sva_account_customer"),
         "sva_account_integration": p.get("sva_account_integration")} for pk, p in pairs])]
    events = [{"contract": pk, "action": Act.CREATE, "actor": actor_id, "actor_label": label, "from_status": "",
               "to_status": CS.PRE_CONTRACT, "from_access_status": "", "to_access_status": AS.AWAITING_SIGNATURE,
               "detail": c.get("detail") or {}} for pk, c in zip(ids, contracts)]
    events += [{"contract": pk, "action": Act.ADD_PRODUCT, "actor": actor_id, "actor_label": label,
                "from_status": CS.PRE_CONTRACT, "to_status": CS.PRE_CONTRACT,
                "from_access_status": AS.AWAITING_SIGNATURE, "to_access_status": AS.AWAITING_SIGNATURE,
                "detail": {"contract_product_id": item_id, "product_id": p["product"], "product": p["name"],
                           "kind": p["kind"]}}
               for (pk, p), item_id in zip(pairs, item_ids)]
    insert_dicts(ContractEvent, events, returning=())
    out, items = [], iter(item_ids)
    for pk, c in zip(ids, contracts):
        out.append((pk, [next(items) for _ in c["products"]]))
    return out


@transaction.atomic
def contract_transition(*, contract: Contract | int, action: str, actor=None, note: str = "") -> Contract:
    """Apply one status action of TRANSITIONS (activate, block_manual, …)."""
    rule = TRANSITIONS.get(action)
    if rule is None:
        raise ApplicationError("action_unknown", f"Ação desconhecida: {action}.")
    contract = _locked(contract)
    if not rule.allows(contract.status, contract.access_status):
        raise InvalidTransition(
            "invalid_transition",
            f"{rule.refusal} Situação atual: status {contract.status} "
            f"({contract.get_status_display()}), acesso {contract.access_status} "
            f"({contract.get_access_status_display()}).",
            extra={"status": contract.status, "access_status": contract.access_status, "action": action},
        )
    if action == Act.RESCIND and not (contract.oldest_open_due and contract.oldest_open_due < timezone.localdate()):
        raise InvalidTransition("rescind_without_debt",
                                "Rescisão por débito exige um título vencido em aberto neste contrato.")
    before = (contract.status, contract.access_status)
    now = timezone.now()
    if rule.to_status:
        contract.status = rule.to_status
    if rule.to_access:
        contract.access_status = rule.to_access
    if action == Act.ACTIVATE:
        contract.activated_at = contract.activated_at or now
        contract.ended_at = None
    elif action in (Act.DEACTIVATE, Act.CANCEL, Act.RESCIND):
        contract.ended_at = now
    contract.version += 1  # the row is locked since _locked: no concurrent writer to lose
    contract.save(update_fields=["status", "access_status", "activated_at", "ended_at", "version", "updated_at"])
    if action == Act.CANCEL:
        # The cancelled contract's accounts are on their way out (blocked now, removed
        # after the retention period: sva.retention): the customer may sign again.
        ContractProduct.objects.filter(contract=contract, sva_account_customer__isnull=False).update(
            sva_account_customer=None, sva_account_integration=None)
    _event(contract, action, actor=actor, before=before, detail={"note": note} if note else None)
    contracts_changed.send(sender=Contract, contract_ids=[contract.pk])
    if action == Act.ACTIVATE:
        contract_activated.send(sender=Contract, contract=contract, actor=actor)
    return contract


def contract_activate(*, contract, actor=None) -> Contract:
    return contract_transition(contract=contract, action=Act.ACTIVATE, actor=actor)


def contract_block_manual(*, contract, actor=None, note: str = "") -> Contract:
    return contract_transition(contract=contract, action=Act.BLOCK_MANUAL, actor=actor, note=note)


def contract_block_automatic(*, contract, actor=None) -> Contract:
    return contract_transition(contract=contract, action=Act.BLOCK_AUTOMATIC, actor=actor)


def contract_mark_overdue(*, contract, actor=None) -> Contract:
    return contract_transition(contract=contract, action=Act.MARK_OVERDUE, actor=actor)


def contract_release(*, contract, actor=None) -> Contract:
    return contract_transition(contract=contract, action=Act.RELEASE, actor=actor)


def contract_deactivate(*, contract, actor=None) -> Contract:
    return contract_transition(contract=contract, action=Act.DEACTIVATE, actor=actor)


def contract_cancel(*, contract, actor=None) -> Contract:
    return contract_transition(contract=contract, action=Act.CANCEL, actor=actor)


@transaction.atomic
def contract_add_product(
    *, contract: Contract | int, product_id: int, kind: str | None = None, price=None, actor=None
) -> ContractProduct:
    """Add a product. ``kind`` defaults to SVA for products with an SVA integration; a
    product of type SVA must have one."""
    contract = _locked(contract)
    errors = FieldErrors()
    if contract.status == CS.CANCELLED:
        raise InvalidTransition("contract_cancelled", "Não é possível incluir produtos em um contrato cancelado.")
    product = Product.objects.select_related("sva_integration").filter(pk=product_id).first()
    if product is None:
        errors.add("product_id", "product_not_found", "Produto não encontrado.")
    elif not product.active:
        errors.add("product_id", "product_inactive", "Produto inativo.")
    if kind is None and product is not None:
        kind = ProductKind.SVA if product.is_sva else ProductKind.OTHER
    if kind is not None and kind not in ProductKind.values:
        errors.add("kind", "kind_invalid", "Tipo inválido: use SVA ou OUTRO.")
    elif kind == ProductKind.SVA and product is not None and not product.is_sva:
        errors.add("kind", "product_not_sva", "Este produto não tem integração SVA (aba SVA do produto).")
    if price is not None:
        try:
            price = parse_amount(price, allow_zero=True)
        except AmountInvalid as exc:
            errors.add("price", exc.code, exc.message)
    errors.raise_if_any()
    account = _sva_account(contract, product, kind)
    replaced = None
    if account:
        holder = _account_holder(*account)
        if holder is not None:
            if not _replaces_in_place(holder, contract, product):
                raise _account_exists(holder, product)
            replaced = _replace(holder, contract, actor)
    try:
        with transaction.atomic():  # a savepoint: the constraint may refuse the INSERT
            item = ContractProduct.objects.create(
                contract=contract, product=product, kind=kind, price=price,
                sva_account_customer=account[0] if account else None,
                sva_account_integration=account[1] if account else None,
            )
    except IntegrityError:
        # Another contract of this customer took the account after our check (its own
        # lock): the constraint refused; name the winner, as the check would have.
        holder = _account_holder(*account) if account else None
        if holder is None:
            raise
        raise _account_exists(holder, product) from None
    _bump(contract)
    detail = {"contract_product_id": item.pk, "product_id": product.pk, "product": product.name, "kind": kind}
    if replaced is not None:
        detail["replaces_contract_product_id"] = replaced.pk
    _event(contract, Act.ADD_PRODUCT, actor=actor, before=(contract.status, contract.access_status), detail=detail)
    contract_product_added.send(sender=ContractProduct, contract_product=item, actor=actor, replaces=replaced)
    return item


def _sva_account(contract: Contract, product: Product, kind: str) -> tuple[int, int] | None:
    """(customer, integration) when this item holds a platform account that must be the
    customer's only one on that integration (connector flag one_account_per_customer)."""
    integration = product.sva_integration
    if kind != ProductKind.SVA or integration is None:
        return None
    if not platform_allows(integration.platform, "one_account_per_customer"):
        return None
    return contract.customer_id, integration.pk


def sva_account_refusal(*, customer_id: int, product_ids: list[int]) -> Conflict | None:
    """The ``sva_account_exists`` refusal for adding these products to a new contract of
    this customer, or None: for writers that insert items in bulk (CSV imports) and meet
    the constraint, to report it as ``contract_add_product`` does."""
    seen: dict[int, Product] = {}
    for product in Product.objects.select_related("sva_integration").filter(pk__in=product_ids).order_by("pk"):
        integration = product.sva_integration
        if integration is None or not platform_allows(integration.platform, "one_account_per_customer"):
            continue
        holder = _account_holder(customer_id, integration.pk) if customer_id else None
        if holder is not None:
            return _account_exists(holder, product)
        if integration.pk in seen:
            message = (f"Os produtos “{seen[integration.pk].name}” e “{product.name}” são da mesma integração "
                       f"SVA ({integration.platform.upper()}), que permite uma conta por cliente: inclua só um.")
            return Conflict("sva_account_exists", message,
                            fields={"product_id": [FieldError("sva_account_exists", message)]})
        seen[integration.pk] = product
    return None


def _account_holder(customer_id: int, integration_id: int) -> ContractProduct | None:
    return (ContractProduct.objects.filter(sva_account_customer=customer_id, sva_account_integration=integration_id,
                                           removed_at__isnull=True)
            .select_related("product__sva_integration").first())


def _replaces_in_place(holder: ContractProduct, contract: Contract, product: Product) -> bool:
    """Another product of the integration on the same contract, on a platform that changes
    an account's package in place: the new product replaces the old and keeps its account."""
    return (holder.contract_id == contract.pk and holder.product_id != product.pk
            and platform_allows(product.sva_integration.platform, "can_change_package"))


def _replace(holder: ContractProduct, contract: Contract, actor) -> ContractProduct:
    """Remove ``holder`` from the contract without removing its account: the receiver of
    ``contract_product_added`` (``replaces``) moves the account to the new item."""
    holder.removed_at = timezone.now()
    holder.save(update_fields=["removed_at"])
    _event(contract, Act.REMOVE_PRODUCT, actor=actor, before=(contract.status, contract.access_status),
           detail={"contract_product_id": holder.pk, "product_id": holder.product_id, "product": holder.product.name,
                   "replaced": True})
    return holder


def _account_exists(holder: ContractProduct, product: Product) -> Conflict:
    """The refusal, naming the customer's account (its SVA user, if created) and contract."""
    platform = product.sva_integration.platform.upper()
    users = getattr(holder, "sva_users", None)  # the SVA app's reverse relation; contracts does not import it
    user = users.filter(deleted_at__isnull=True).order_by("id").first() if users is not None else None
    who = f"o usuário SVA {user.pk} (produto “{holder.product.name}”)" if user else \
        f"o produto “{holder.product.name}” (usuário SVA ainda não criado)"
    message = (f"O cliente já tem uma conta na {platform}: {who} no contrato {holder.contract_id}. "
               f"A {platform} permite uma conta por cliente: remova esse produto antes de incluir outro desta "
               "integração.")
    if holder.product_id == product.pk:
        message = (f"O cliente já tem este produto na {platform}: {who} no contrato {holder.contract_id}. "
                   f"A {platform} permite uma conta por cliente.")
    return Conflict("sva_account_exists", message,
                    fields={"product_id": [FieldError("sva_account_exists", message)]},
                    extra={"contract_id": holder.contract_id, "contract_product_id": holder.pk,
                           "sva_user_id": user.pk if user else None})


@transaction.atomic
def contract_remove_product(*, contract: Contract | int, contract_product_id: int, actor=None) -> ContractProduct:
    """Remove a product from the contract; its SVA user is removed (here and on the platform)."""
    contract = _locked(contract)
    item = ContractProduct.objects.filter(
        pk=contract_product_id, contract=contract, removed_at__isnull=True
    ).select_related("product").first()
    if item is None:
        raise NotFound("Produto do contrato", "contract_product_not_found")
    item.removed_at = timezone.now()
    item.save(update_fields=["removed_at"])
    _bump(contract)
    _event(contract, Act.REMOVE_PRODUCT, actor=actor, before=(contract.status, contract.access_status),
           detail={"contract_product_id": item.pk, "product_id": item.product_id, "product": item.product.name})
    contract_product_removed.send(sender=ContractProduct, contract_product=item, actor=actor)
    return item

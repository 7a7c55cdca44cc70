"""Contract actions. Each is one transaction: lock the row, check the transition, change
statuses, bump ``version``, write the Histórico event and let listeners (SVA) record
their intent. An invalid transition raises and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from agrega.catalog.models import Product
from agrega.core.errors import ApplicationError, FieldErrors, InvalidTransition, NotFound
from agrega.core.prepared import PreparedQuery
from agrega.core.text import clean_text_into
from agrega.customers.models import Customer

from .choices import AccessStatus as AS
from .choices import ContractAction as Act
from .choices import ContractStatus as CS
from .choices import ProductKind
from .models import Contract, ContractEvent, ContractProduct
from .signals import contract_activated, contract_product_added, contract_product_removed, contracts_changed


@dataclass(frozen=True)
class Transition:
    """Which (status, access status) pairs an action accepts and what it leads to."""

    action: str
    allowed_status: frozenset[str]
    allowed_access: frozenset[str] | None  # None: any access status
    to_status: str | None  # None: keep
    to_access: str | None
    refusal: str

    def allows(self, status: str, access_status: str) -> bool:
        """Whether a contract in (status, access_status) may take this action."""
        return status in self.allowed_status and (
            self.allowed_access is None or access_status in self.allowed_access
        )


_BLOCKABLE = frozenset({AS.ACTIVE, AS.OVERDUE, AS.AUTOMATIC_BLOCK, AS.MANUAL_BLOCK})

TRANSITIONS: dict[str, Transition] = {
    Act.ACTIVATE: Transition(
        Act.ACTIVATE, frozenset({CS.PRE_CONTRACT, CS.INACTIVE, CS.NEGATIVADO}), None, CS.ACTIVE, AS.ACTIVE,
        "Só é possível ativar um pré-contrato, um contrato inativo ou negativado.",
    ),
    Act.BLOCK_MANUAL: Transition(
        Act.BLOCK_MANUAL, frozenset({CS.ACTIVE}), frozenset({AS.ACTIVE, AS.OVERDUE, AS.AUTOMATIC_BLOCK}),
        None, AS.MANUAL_BLOCK,
        "Só é possível bloquear manualmente um contrato ativo que ainda não está em bloqueio manual.",
    ),
    Act.BLOCK_AUTOMATIC: Transition(
        Act.BLOCK_AUTOMATIC, frozenset({CS.ACTIVE}), frozenset({AS.ACTIVE, AS.OVERDUE}),
        None, AS.AUTOMATIC_BLOCK,
        "Só é possível bloquear automaticamente um contrato ativo, liberado ou em atraso.",
    ),
    Act.MARK_OVERDUE: Transition(
        Act.MARK_OVERDUE, frozenset({CS.ACTIVE}), frozenset({AS.ACTIVE}), None, AS.OVERDUE,
        "Só é possível marcar financeiro em atraso em um contrato ativo e liberado.",
    ),
    Act.RELEASE: Transition(
        Act.RELEASE, frozenset({CS.ACTIVE}),
        frozenset({AS.MANUAL_BLOCK, AS.AUTOMATIC_BLOCK, AS.OVERDUE}), None, AS.ACTIVE,
        "Só é possível desbloquear um contrato ativo em bloqueio (CM, CA) ou financeiro em atraso (FA).",
    ),
    Act.DEACTIVATE: Transition(
        Act.DEACTIVATE, frozenset({CS.ACTIVE}), _BLOCKABLE | {AS.DISABLED}, CS.INACTIVE, AS.DISABLED,
        "Só é possível inativar um contrato ativo.",
    ),
    Act.RESCIND: Transition(
        Act.RESCIND, frozenset({CS.ACTIVE}), None, CS.NEGATIVADO, AS.DISABLED,
        "Só é possível rescindir por débito um contrato ativo.",
    ),
    Act.CANCEL: Transition(
        Act.CANCEL, frozenset({CS.PRE_CONTRACT, CS.ACTIVE, CS.INACTIVE, CS.NEGATIVADO}), None,
        CS.CANCELLED, AS.DISABLED,
        "Este contrato já está cancelado.",
    ),
}


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
NOTE_ACTIONS = frozenset({Act.CONSENT_RECORDED, Act.CONSENT_REVOKED})


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


# Every action starts here: compiled once per connection (core.prepared.PreparedQuery), since
# building the locking query cost more CPU than running it (bench/README.md, "api_load").
_LOCKED = PreparedQuery(_locked_query, int)


def _locked(contract: Contract | int) -> Contract:
    pk = contract.pk if isinstance(contract, Contract) else contract
    connection = transaction.get_connection()
    if connection.features.has_select_for_update and connection.get_autocommit():  # as the ORM refuses
        raise transaction.TransactionManagementError("select_for_update cannot be used outside of a transaction.")
    found = _LOCKED.fetch(pk)
    if not found:
        raise NotFound("Contrato", "contract_not_found")
    return found[0]


def _bump(contract: Contract) -> None:
    """Called on a row ``_locked`` holds, so the version read with the lock is current."""
    contract.version += 1
    Contract.objects.filter(pk=contract.pk).update(version=contract.version)


@transaction.atomic
def contract_create(*, customer_id: int, billing_day: int = 10, description: str = "", actor=None) -> Contract:
    errors = FieldErrors()
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        errors.add("customer_id", "customer_not_found", "Cliente não encontrado.")
    if not isinstance(billing_day, int) or not 1 <= billing_day <= 31:
        errors.add("billing_day", "billing_day_invalid", "Dia de vencimento deve estar entre 1 e 31.")
    description = clean_text_into(errors, "description", Contract, "description", description, label="Descrição")
    errors.raise_if_any()
    contract = Contract.objects.create(customer=customer, billing_day=billing_day, description=description)
    _event(contract, Act.CREATE, actor=actor, before=("", ""))
    return contract


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
            price = Decimal(str(price)).quantize(Decimal("0.01"))
            if price < 0:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors.add("price", "price_invalid", "Valor inválido.")
    errors.raise_if_any()
    item = ContractProduct.objects.create(contract=contract, product=product, kind=kind, price=price)
    _bump(contract)
    _event(contract, Act.ADD_PRODUCT, actor=actor, before=(contract.status, contract.access_status),
           detail={"contract_product_id": item.pk, "product_id": product.pk, "product": product.name, "kind": kind})
    contract_product_added.send(sender=ContractProduct, contract_product=item, actor=actor)
    return item


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

"""Writes for SVA users: automatic and manual creation, deletion, "sincronizar agora",
and the intent bumps that tell the controller something changed. No platform call
happens here: the controller (sva/controller) converges after the commit."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from agrega.consent.selectors import CONSENT_PROBLEM_FIELD, consent_gate_problems
from agrega.contracts.choices import ContractStatus, ProductKind
from agrega.contracts.models import Contract, ContractProduct
from agrega.core.audit import record_change, record_changes
from agrega.core.br import InvalidValue, clean_document, clean_email, clean_mobile
from agrega.core.errors import ApplicationError, Conflict, FieldError, FieldErrors, InvalidTransition, NotFound

from . import pending
from .choices import SvaOrigin, SvaState
from .models import SvaUser
from .selectors import customer_registration_problems, platform_rules

LIVE = Q(deleted_at__isnull=True)
_OWN_LABELS = {"email": "Usuário (e-mail)", "phone": "Telefone", "document": "CPF/CNPJ"}


def bump(queryset: QuerySet[SvaUser]) -> int:
    """Mark users as needing convergence after a change of their contract, customer or
    product: each gets its queue row due now (``pending.mark_matching``: one statement,
    however many users). The user's own row is not written — the worker derives what
    the platform should hold from the contract as it is when it claims the user, and a
    change that commits after that claim leaves the queue row changed, so the user is
    converged again (docs/decisions/0007-pending-work-queue.md)."""
    return pending.mark_matching(queryset)


def bump_contracts(contract_ids: list[int]) -> int:
    """``bump`` for the live users of these contracts (the status actions, the sweep)."""
    return pending.mark_contracts(contract_ids)


# Consent gate (agrega.consent): when the product's integration requires consent and the
# (contract, product) has no valid one, a user not yet created on the platform keeps the
# problem {"field": "consent", "code": "consent_missing"} in registration_problems: the
# controller keeps it (controller/engine.py) and does not create the user, and the
# contract's SVA tab shows it. Recording consent re-checks (consent_changed → receivers).
# A user already on the platform is never gated: revoking consent does not remove it.
def _consent_gate(user: SvaUser) -> list[dict]:
    if user.creation_attempted or user.confirmed_state != SvaState.ABSENT:
        return []
    return consent_gate_problems(integration=user.integration, contract_id=user.contract_id,
                                 product_id=user.contract_product.product_id)


def not_created_on_platform(queryset: QuerySet[SvaUser]) -> QuerySet[SvaUser]:
    """The users the consent gate applies to (no creation sent to the platform yet)."""
    return queryset.filter(creation_attempted=False, confirmed_state=SvaState.ABSENT)


def _live_user_for(item: ContractProduct) -> SvaUser | None:
    return SvaUser.objects.filter(LIVE, contract_product=item).first()


def _creation_changes(user: SvaUser) -> dict:
    return {"origin": [None, user.origin], "contract_product_id": [None, user.contract_product_id],
            "use_customer_data": [None, user.use_customer_data]}


def _insert(user: SvaUser, *, actor=None) -> SvaUser:
    try:
        with transaction.atomic():
            user.save()
            pending.mark([user.pk])
            record_change(instance=user, action="create", actor=actor, changes=_creation_changes(user))
    except IntegrityError:
        raise Conflict(
            "sva_user_exists",
            "Este produto do contrato já tem um usuário SVA (um usuário por produto do contrato).",
        ) from None
    return user


def _auto_user(item: ContractProduct, contract: Contract, registration: list[dict], actor) -> SvaUser:
    """An automatic user of ``item``, kept with its registration and consent problems."""
    integration = item.product.sva_integration
    problems = registration + consent_gate_problems(  # consent gate, see _consent_gate
        integration=integration, contract_id=contract.pk, product_id=item.product_id)
    return SvaUser(
        integration=integration,
        contract=contract,
        contract_product=item,
        origin=SvaOrigin.AUTOMATIC,
        use_customer_data=True,
        registration_problems=problems,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def sva_user_auto_create(*, contract_product: ContractProduct, actor=None) -> SvaUser | None:
    """Automatic creation (integration flag = sim). Never refuses: when the registration
    check fails, the user is kept with its problems, visible on the contract, and
    creation on the platform waits until the customer's data is corrected."""
    product = contract_product.product
    integration = product.sva_integration
    if integration is None or not integration.auto_create_users or not integration.active:
        return None
    if contract_product.kind != ProductKind.SVA or contract_product.removed_at is not None:
        return None
    if _live_user_for(contract_product) is not None:
        return None
    contract = contract_product.contract
    registration = customer_registration_problems(contract.customer, integration)
    return _insert(_auto_user(contract_product, contract, registration, actor), actor=actor)


def _auto_create_items(contract_id: int) -> QuerySet[ContractProduct]:
    """The contract's SVA products that get a user automatically and have no live one."""
    return (
        ContractProduct.objects.filter(
            contract_id=contract_id,
            removed_at__isnull=True,
            kind=ProductKind.SVA,
            product__sva_integration__auto_create_users=True,
            product__sva_integration__active=True,
        )
        .exclude(Exists(SvaUser.objects.filter(LIVE, contract_product=OuterRef("pk"))))
        .select_related("product__sva_integration")
        .order_by("pk")
    )



def sva_users_auto_create_for_contract(*, contract: Contract, actor=None) -> list[SvaUser]:
    """The automatic users of a contract just activated, in one INSERT for all its
    products (plus one queue and one audit statement).

    The caller holds the contract's row lock (``contracts.services``), as every creation
    of an SVA user does (``sva_user_create`` locks it too), so no user of this contract
    can appear between the query's "no live user" and the INSERT."""
    items = list(_auto_create_items(contract.pk))
    if not items:
        return []
    registration: dict[int, list[dict]] = {}  # per integration: what its platform accepts
    for item in items:
        integration = item.product.sva_integration
        if integration.pk not in registration:
            registration[integration.pk] = customer_registration_problems(contract.customer, integration)
    users = [_auto_user(item, contract, registration[item.product.sva_integration_id], actor) for item in items]
    SvaUser.objects.bulk_create(users)
    pending.mark([user.pk for user in users])
    record_changes([(user, _creation_changes(user)) for user in users], action="create", actor=actor)
    return users


@transaction.atomic
def sva_user_create(
    *,
    contract_id: int,
    integration_id: int,
    contract_product_id: int,
    use_customer_data: bool = True,
    email: str = "",
    phone: str = "",
    document: str = "",
    actor=None,
) -> SvaUser:
    """Manual creation from the contract's SVA tab (seed, Passo 4, "Ativação Manual").

    With ``use_customer_data`` the CPF/CNPJ, e-mail and phone come from the customer (and
    follow later changes); otherwise the given values are used. Every missing or invalid
    field is named; nothing is written when any is wrong.
    """
    contract = Contract.objects.select_for_update().select_related("customer").filter(pk=contract_id).first()
    if contract is None:
        raise NotFound("Contrato", "contract_not_found")
    if contract.status == ContractStatus.CANCELLED:
        raise InvalidTransition("contract_cancelled", "Não é possível criar usuário SVA em um contrato cancelado.")
    errors = FieldErrors()
    item = (
        ContractProduct.objects.select_related("product__sva_integration")
        .filter(pk=contract_product_id, contract=contract, removed_at__isnull=True)
        .first()
    )
    if item is None:
        errors.add("contract_product_id", "contract_product_not_found",
                   "Produto não encontrado neste contrato: inclua-o na aba Produtos antes.")
    elif item.product.sva_integration_id is None:
        errors.add("contract_product_id", "product_not_sva", "Este produto não tem integração SVA.")
    elif item.product.sva_integration_id != integration_id:
        errors.add("integration_id", "integration_mismatch",
                   "A integração informada não é a do produto (aba SVA do produto).")
    elif not item.product.sva_integration.active:
        errors.add("integration_id", "integration_inactive", "A integração SVA está inativa.")
    errors.raise_if_any()

    # Consent gate (see _consent_gate): manual creation is refused instead of held.
    for problem in consent_gate_problems(integration=item.product.sva_integration, contract_id=contract.pk,
                                         product_id=item.product_id):
        raise ApplicationError(
            problem["code"],
            problem["message"] + " Registre o consentimento na aba SVA do contrato (Consentimentos) "
            "antes de criar o usuário.",
            status_code=422,
            fields={"contract_product_id": [FieldError(problem["code"], problem["message"])]},
        )

    integration = item.product.sva_integration
    if use_customer_data:
        problems = customer_registration_problems(contract.customer, integration)
        if problems:
            raise ApplicationError(
                "registration_incomplete",
                "Cadastro do cliente incompleto para criar o usuário SVA: "
                + "; ".join(p["message"] for p in problems),
                status_code=422,
                fields={p["field"]: [FieldError(p["code"], p["message"])] for p in problems},
            )
        email = phone = document = ""
    else:
        cleaned = {}
        for key, clean, value in (
            ("email", clean_email, email), ("phone", clean_mobile, phone), ("document", clean_document, document)
        ):
            try:
                cleaned[key] = clean(value)
            except InvalidValue as exc:
                errors.add(key, exc.code, f"{_OWN_LABELS[key]}: {exc.message}")
        errors.raise_if_any("Dados do usuário SVA inválidos.")
        email, phone, document = cleaned["email"], cleaned["phone"], cleaned["document"]
        # what the platform accepts (its connector's DataRules): refused here, not there
        rules, platform = platform_rules(integration)
        if rules is not None:
            for problem in rules.problems(platform, name=contract.customer.name, **cleaned):
                label = "Nome no cadastro do cliente" if problem.field == "name" else _OWN_LABELS[problem.field]
                errors.add(problem.field, problem.code, f"{label}: {problem.message}")
        errors.raise_if_any("Dados do usuário SVA não aceitos pela plataforma.")

    if _live_user_for(item) is not None:
        raise Conflict(
            "sva_user_exists",
            "Este produto do contrato já tem um usuário SVA (um usuário por produto do contrato).",
        )
    return _insert(SvaUser(
        integration=item.product.sva_integration,
        contract=contract,
        contract_product=item,
        origin=SvaOrigin.MANUAL,
        use_customer_data=use_customer_data,
        email=email,
        phone=phone,
        document=document,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    ), actor=actor)


@transaction.atomic
def sva_user_delete(*, sva_user: SvaUser, actor=None, reason: str = "") -> SvaUser:
    """Remove the user here and on the platform (the controller deletes it there).
    ``reason`` goes to the audit record (e.g. "retention": sva/retention.py)."""
    user = SvaUser.objects.select_for_update().filter(pk=sva_user.pk).first()
    if user is None or user.deleted_at is not None:
        raise NotFound("Usuário SVA", "sva_user_not_found")
    user.deleted_at = timezone.now()
    user.deleted_by = actor if getattr(actor, "is_authenticated", False) else None
    user.registration_problems = []
    user.version = F("version") + 1
    user.next_attempt_at = None
    user.changed_at = user.deleted_at
    user.save(update_fields=["deleted_at", "deleted_by", "registration_problems", "version", "next_attempt_at",
                             "changed_at"])
    pending.mark([user.pk], now=user.deleted_at)
    user.refresh_from_db()
    record_change(instance=user, action="delete", actor=actor, changes={"motivo": reason} if reason else None)
    return user


def sva_user_move(*, from_item: ContractProduct, to_item: ContractProduct, actor=None) -> SvaUser | None:
    """The live user of ``from_item`` now belongs to ``to_item`` (same contract: a product
    replaced by another of the same integration, on a platform that changes the package
    in place). Same external id, so the worker updates the account's package instead of
    deleting it and creating another."""
    user = SvaUser.objects.select_for_update().filter(LIVE, contract_product=from_item).first()
    if user is None:
        return None
    before = user.contract_product_id
    SvaUser.objects.filter(pk=user.pk).update(contract_product=to_item, version=F("version") + 1,
                                              next_attempt_at=None, changed_at=timezone.now())
    pending.mark([user.pk])
    user.refresh_from_db()
    record_change(instance=user, action="update", actor=actor,
                  changes={"contract_product_id": [before, to_item.pk]})
    return user


def sva_users_remove_cancelled(*, customer_id: int, integration_id: int, actor=None) -> int:
    """Remove at once the customer's users of this integration on cancelled contracts
    (otherwise removed after the retention period): the customer has a new one."""
    users = SvaUser.objects.filter(LIVE, integration_id=integration_id, contract__customer_id=customer_id,
                                   contract__status=ContractStatus.CANCELLED)
    removed = 0
    for user in users:
        sva_user_delete(sva_user=user, actor=actor)
        removed += 1
    return removed


@transaction.atomic
def sva_users_mark_notified(*, ids: list[int], state: str) -> int:
    """What the customer was told of these users (the notices app, after it wrote the
    notices): ``notified_state``, so a later change is told next time."""
    return SvaUser.objects.filter(pk__in=ids).update(notified_state=state)


def sva_user_request_sync(*, sva_user: SvaUser, actor=None) -> SvaUser:
    """"Sincronizar agora": forget the backoff and converge at the next worker pass. A
    worker's lease is left alone: it may be working on the user right now."""
    record_change(instance=sva_user, action="sync_requested", actor=actor)
    SvaUser.objects.filter(pk=sva_user.pk).update(
        version=F("version") + 1, next_attempt_at=None, failures=0, changed_at=timezone.now()
    )
    pending.mark([sva_user.pk])
    sva_user.refresh_from_db()
    return sva_user


def sva_users_refresh_registration(*, queryset: QuerySet[SvaUser]) -> None:
    """Re-run the registration check for users that follow customer data (after the
    customer's e-mail, phone or document changed) and the consent gate (after a consent
    was recorded or revoked, or the integration's rule changed), and mark them for
    convergence. Each check keeps the other's problems."""
    users = queryset.filter(LIVE).select_related("contract__customer", "integration", "contract_product")
    for user in users:
        if user.use_customer_data:
            problems = customer_registration_problems(user.contract.customer, user.integration)
        else:  # own data: checked by the controller, keep what it found
            problems = [p for p in user.registration_problems if p.get("field") != CONSENT_PROBLEM_FIELD]
        problems += _consent_gate(user)
        if problems != user.registration_problems:
            SvaUser.objects.filter(pk=user.pk).update(registration_problems=problems)
    bump(queryset.filter(LIVE))

"""Reads for SVA users: the desired state (a pure function of contract, product and
customer), the registration check, and the lists the API and pages show."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from agrega.consent.selectors import consent_gate_problems
from agrega.contracts.choices import AccessStatus, ContractStatus
from agrega.core.br import InvalidValue, clean_document, clean_email, clean_mobile
from agrega.integrations.connectors.base import RULE_CODES, DataRules
from agrega.integrations.connectors.registry import connector_class

from .choices import SvaState, SyncStatus
from .models import SvaCall, SvaPendingWork, SvaUser

# Registration fields as the customer's form names them (seed: "Validação cadastral").
CUSTOMER_FIELDS = {"email": "email", "phone": "mobile_phone", "document": "document", "name": "name"}
FIELD_LABELS = {"email": "E-mail principal", "phone": "Telefone celular", "document": "CPF/CNPJ", "name": "Nome"}


@dataclass(frozen=True)
class Desired:
    state: str
    name: str
    email: str
    phone: str
    document: str
    package_code: str


def customer_registration_values(customer) -> dict[str, str]:
    """The customer's data an SVA user takes with "usar dados cadastro"."""
    return {"email": customer.email, "phone": customer.mobile_phone, "document": customer.document}


def customer_registration_problems(customer, integration=None) -> list[dict]:
    """The registration check of the seed ("Validação cadastral") on a customer, with
    what ``integration``'s platform accepts when given (``platform_rules``)."""
    rules, platform = platform_rules(integration) if integration is not None else (None, "")
    return registration_check(customer_registration_values(customer), from_customer=True,
                              name=customer.name, rules=rules, platform=platform)


def platform_rules(integration) -> tuple[DataRules | None, str]:
    """(what the integration's platform accepts, the platform's label), as its connector
    declares them; (None, platform) when no connector serves the platform."""
    try:
        cls = connector_class(integration.platform)
    except LookupError:
        return None, integration.platform
    return getattr(cls, "data_rules", None), cls.label


def customer_platform_problems(customer, changed: set[str]) -> list[dict]:
    """The ``changed`` registration fields of ``customer`` that a platform where the
    customer has a live SVA user following the customer's data could not take; each
    problem names the platform and what to do. Data invalid anywhere (core.br) is the
    customer's own checks' to report, not this one's."""
    from .services import LIVE

    keys = {key for key, field in CUSTOMER_FIELDS.items() if field in changed}
    if not keys:
        return []
    integrations = {u.integration_id: u.integration for u in SvaUser.objects.filter(
        LIVE, contract__customer=customer, use_customer_data=True).select_related("integration")}
    problems = []
    for integration in integrations.values():
        for problem in customer_registration_problems(customer, integration):
            if problem["field"] in changed and problem not in problems and problem["code"] in RULE_CODES:
                problems.append(problem)
    return problems



def registration_values(sva_user: SvaUser) -> dict[str, str]:
    if sva_user.use_customer_data:
        return customer_registration_values(sva_user.contract.customer)
    return {"email": sva_user.email, "phone": sva_user.phone, "document": sva_user.document}


def registration_problems_to_fix(sva_user: SvaUser) -> list[dict]:
    """The user's registration problems, each with ``customer_field``: the field of the
    customer's form that fixes it ("" when the fix is elsewhere: consent, or the user's
    own data), so a page can link straight to that field (``?focus=``)."""
    form_fields = set(CUSTOMER_FIELDS.values())
    out = []
    for problem in sva_user.registration_problems or []:
        field = problem.get("field", "")
        fixable = field in form_fields and (sva_user.use_customer_data or field == "name")
        out.append({**problem, "customer_field": field if fixable else ""})
    return out


def registration_check(values: dict[str, str], *, from_customer: bool, name: str | None = None,
                       rules: DataRules | None = None, platform: str = "") -> list[dict]:
    """Every missing or invalid registration field, named, or [] when all are valid.

    With ``rules`` (the platform's ``DataRules``), the valid values (and ``name``, always
    the customer's) are also checked against what the platform accepts, so data that
    could only fail there is held back here, with a message that says what to do."""
    problems = []
    valid = {}
    checks = (("email", clean_email), ("phone", clean_mobile), ("document", clean_document))
    for key, clean in checks:
        try:
            valid[key] = clean(values.get(key) or "")
        except InvalidValue as exc:
            where = " no cadastro do cliente" if from_customer else ""
            problems.append({
                "field": CUSTOMER_FIELDS[key] if from_customer else key,
                "code": exc.code,
                "message": f"{FIELD_LABELS[key]}{where}: {exc.message}",
            })
    if rules is not None:
        for problem in rules.problems(platform, name=name, **valid):
            customer_field = from_customer or problem.field == "name"
            where = " no cadastro do cliente" if customer_field else ""
            problems.append({
                "field": CUSTOMER_FIELDS[problem.field] if customer_field else problem.field,
                "code": problem.code,
                "message": f"{FIELD_LABELS[problem.field]}{where}: {problem.message}",
            })
    return problems


def derive_desired(
    *,
    contract_status: str,
    access_status: str,
    deleted: bool,
    product_removed: bool,
    name: str,
    email: str,
    phone: str,
    document: str,
    package_code: str,
) -> Desired:
    """The rules table of PRODUCT.md as one pure function: active when the contract is
    active (A) and released (A); blocked for FA, CM, CA, inactive, cancelled or not yet
    active; absent when the user was deleted or its product left the contract."""
    if deleted or product_removed:
        state = SvaState.ABSENT
    elif contract_status == ContractStatus.ACTIVE and access_status == AccessStatus.ACTIVE:
        state = SvaState.ACTIVE
    else:
        state = SvaState.BLOCKED
    return Desired(state=state, name=name, email=email, phone=phone, document=document,
                   package_code=package_code)


def desired_for(sva_user: SvaUser) -> Desired:
    """What the platform should hold for this user (see ``derive_desired``)."""
    contract = sva_user.contract
    values = registration_values(sva_user)
    return derive_desired(
        contract_status=contract.status,
        access_status=contract.access_status,
        deleted=sva_user.deleted_at is not None,
        product_removed=sva_user.contract_product.removed_at is not None,
        name=contract.customer.name,
        package_code=sva_user.contract_product.product.sva_package_code,
        **values,
    )


def is_pending(sva_user: SvaUser) -> bool:
    """Whether the user waits for the worker: it has a row in the queue (sva/pending.py).
    Read from the ``pending`` annotation of ``sva_user_queryset`` when there is one."""
    annotated = getattr(sva_user, "pending", None)
    if annotated is not None:
        return annotated
    return SvaPendingWork.objects.filter(sva_user_id=sva_user.pk).exists()


def sync_status(sva_user: SvaUser) -> str:
    """Queued again after a refusal (a fix of the data or "Sincronizar agora" bumped it)
    is pending, not "Erro": the last error belongs to data that may be fixed by now."""
    pending = is_pending(sva_user)
    if sva_user.deleted_at is not None and not pending:
        return SyncStatus.REMOVED
    if sva_user.registration_problems:
        return SyncStatus.REGISTRATION
    if not pending:
        return SyncStatus.ERROR if sva_user.last_error_code else SyncStatus.SYNCED
    if sva_user.last_error_code and sva_user.next_attempt_at:
        return SyncStatus.RETRYING
    return SyncStatus.PENDING


LIVE_SYNC = {SyncStatus.PENDING, SyncStatus.RETRYING}


def is_live(sync: str) -> bool:
    """Whether a page showing a user in this sync state should keep asking for it."""
    return sync in LIVE_SYNC


def scheduled_removal_at(sva_user: SvaUser):
    """When the user of a cancelled contract will be removed (sva/retention.py), or None."""
    from .retention import removal_at

    contract = sva_user.contract
    return removal_at(contract_status=contract.status, ended_at=contract.ended_at,
                      deleted=sva_user.deleted_at is not None)


STOPPED_HINT = "Sem novas tentativas até corrigir os dados (cliente, contrato ou produto)."


def retries_stopped(sva_user: SvaUser) -> bool:
    """The platform refused the user's data for good (400, 409, 413, 422: a permanent
    error, controller/worker.py): the worker will not try again until a change of the
    customer, the contract or the product queues it (or "Sincronizar agora")."""
    return sync_status(sva_user) == SyncStatus.ERROR and not is_pending(sva_user)


def sva_user_queryset() -> QuerySet[SvaUser]:
    return SvaUser.objects.select_related(
        "integration", "contract__customer", "contract_product__product"
    ).annotate(pending=Exists(SvaPendingWork.objects.filter(sva_user=OuterRef("pk"))))


def sva_user_list(
    *,
    contract_id: int | None = None,
    integration_id: int | None = None,
    confirmed_state: str | None = None,
    pending: bool | None = None,
    sync_status: str | None = None,
    include_removed: bool = False,
) -> QuerySet[SvaUser]:
    """The list as ``SvaUserFilterSet`` (sva/filtersets.py) filters it, with values already valid."""
    from .filtersets import SvaUserFilterSet

    return SvaUserFilterSet.filtered({
        "contract_id": contract_id, "integration_id": integration_id, "confirmed_state": confirmed_state or None,
        "pending": pending, "sync_status": sync_status or None, "include_removed": include_removed or None,
    })


def sync_status_q(status: str) -> Q:
    """The rows whose ``sync_status()`` is ``status``, as one filter (same precedence)."""
    behind = Q(pending_work__isnull=False)
    failed = ~Q(last_error_code="")
    removed = Q(deleted_at__isnull=False) & ~behind
    if status == SyncStatus.REMOVED:
        return removed
    ok = ~removed & Q(registration_problems=[])
    if status == SyncStatus.REGISTRATION:
        return ~removed & ~Q(registration_problems=[])
    if status == SyncStatus.SYNCED:
        return ok & ~behind & ~failed
    if status == SyncStatus.ERROR:
        return ok & failed & ~behind
    if status == SyncStatus.RETRYING:
        return ok & behind & failed & Q(next_attempt_at__isnull=False)
    if status == SyncStatus.PENDING:
        return ok & behind & (~failed | Q(next_attempt_at__isnull=True))
    return Q(pk__in=[])


def sva_user_get(pk: int) -> SvaUser | None:
    return sva_user_queryset().filter(pk=pk).first()


def sva_user_timeline(sva_user: SvaUser, limit: int = 100) -> QuerySet[SvaCall]:
    return sva_user.calls.all()[:limit]


def sva_call_list(*, sva_user_id: int) -> QuerySet[SvaCall]:
    """Every platform call of one SVA user (the timeline), for keyset pagination."""
    return SvaCall.objects.filter(sva_user_id=sva_user_id)


@dataclass(frozen=True)
class SvaEffect:
    """What a contract action would do to one SVA user (or product still without one)."""

    kind: str  # "activate" | "block" | "none" | "create" | "pending" | "manual"
    message: str


def _platform_label(integration) -> str:
    """The platform as the confirmation pages name it: its connector's label (the platform
    code upper-cased only when no connector serves it)."""
    try:
        return connector_class(integration.platform).label
    except LookupError:
        return (integration.platform or "plataforma").upper()


def sva_effects_of(contract, *, to_status: str, to_access_status: str) -> list[SvaEffect]:
    """One line per SVA user of ``contract`` (and per SVA product that activation would
    give a user), saying what would happen on the platform if the contract moved to
    ``to_status``/``to_access_status``. Uses ``derive_desired`` (the rules table) and
    ``registration_check`` — the same functions the services and the worker use."""
    from agrega.contracts.choices import ProductKind
    from agrega.contracts.models import ContractProduct

    effects: list[SvaEffect] = []
    users = list(sva_user_list(contract_id=contract.pk).filter(deleted_at__isnull=True))
    for user in users:
        values = registration_values(user)
        product = user.contract_product.product
        where = _platform_label(user.integration)
        label = f"Usuário SVA de {product.name} ({values['email'] or 'sem e-mail'})"
        removed = user.contract_product.removed_at is not None

        before, after = (
            derive_desired(contract_status=status, access_status=access, deleted=False,
                           product_removed=removed, name="", package_code="", **values).state
            for status, access in ((contract.status, contract.access_status), (to_status, to_access_status))
        )
        if user.registration_problems:
            problems = "; ".join(p["message"] for p in user.registration_problems)
            effects.append(SvaEffect("pending", f"{label}: continua pendente na {where} — {problems}"))
        elif before == after:
            now = {SvaState.ACTIVE: "continua ativo", SvaState.BLOCKED: "continua bloqueado"}.get(after, "")
            effects.append(SvaEffect("none", f"{label}: nenhuma mudança na {where}" + (f" ({now})" if now else "")))
        elif after == SvaState.ACTIVE:
            effects.append(SvaEffect("activate", f"{label}: será ativado na {where}"))
        elif after == SvaState.BLOCKED:
            removal = ""
            if to_status == ContractStatus.CANCELLED:  # sva/retention.py
                from .retention import retention
                removal = f" e será removido em {timezone.localdate() + retention():%d/%m/%Y}"
            effects.append(SvaEffect("block", f"{label}: ficará bloqueado na {where}{removal}"))
        else:
            effects.append(SvaEffect("none", f"{label}: será removido da {where}"))

    # Activation (the contract becomes active from another status) creates the missing
    # users of products whose integration allows it (sva.services.sva_users_auto_create…).
    activating = contract.status != ContractStatus.ACTIVE and to_status == ContractStatus.ACTIVE
    with_user = {u.contract_product_id for u in users}
    items = (
        ContractProduct.objects.filter(contract=contract, removed_at__isnull=True, kind=ProductKind.SVA)
        .exclude(pk__in=with_user)
        .select_related("product__sva_integration", "contract__customer")
        .order_by("id")
    )
    for item in items:
        integration = item.product.sva_integration
        if integration is None:
            continue
        where = _platform_label(integration)
        label = f"{item.product.name}"
        if not integration.auto_create_users or not integration.active:
            effects.append(SvaEffect(
                "manual",
                f"{label}: a integração não cria usuários automaticamente — crie o usuário SVA "
                "manualmente na aba SVA do contrato.",
            ))
            continue
        if not activating:
            continue
        customer = item.contract.customer
        problems = customer_registration_problems(customer)
        gate = consent_gate_problems(  # consent gate (agrega.consent, sva/services.py)
            integration=integration, contract_id=item.contract_id, product_id=item.product_id)
        if problems:
            effects.append(SvaEffect(
                "pending",
                f"{label}: o usuário SVA será criado automaticamente, mas ficará pendente até o "
                "cadastro do cliente ser corrigido — " + "; ".join(p["message"] for p in problems),
            ))
        elif gate:
            effects.append(SvaEffect(
                "pending",
                f"{label}: o usuário SVA será criado automaticamente, mas ficará pendente até o "
                "consentimento do cliente ser registrado — " + gate[0]["message"],
            ))
        else:
            effects.append(SvaEffect(
                "create",
                f"{label}: o usuário SVA será criado automaticamente com os dados do cadastro "
                f"do cliente ({customer.email}) e ativado na {where}.",
            ))
    return effects

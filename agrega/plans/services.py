"""Writes for Planos de Venda (a bundle of products with their prices) and the creation of
a contract from a plan. Each write is one transaction; nothing is half-written on bad
input; every change records its author (``record_change``)."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction

from agrega.catalog.models import Product
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_add_product, contract_create
from agrega.core.audit import diff, record_change
from agrega.core.errors import ApplicationError, Conflict, FieldError, FieldErrors, NotFound
from agrega.core.money import AmountInvalid, parse_amount
from agrega.core.text import clean_text_into

from .models import SalesPlan, SalesPlanItem

FIELDS = ("name", "description", "active")


def _price(value, errors: FieldErrors, field: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return parse_amount(value, allow_zero=True)
    except AmountInvalid as exc:
        errors.add(field, exc.code, exc.message)
        return None


def _clean_items(items, errors: FieldErrors, *, prefix: str = "items") -> list[tuple[Product, Decimal | None]]:
    """Each item is {product_id, price (optional: the product's price)}: an active product
    (an SVA product with its active integration), once per plan, a price ≥ 0, and at most
    one SVA package per integration — the platform holds one user (one package) per
    customer e-mail, so a second package of the same integration could never be created."""
    ids = []
    for raw in items:
        try:
            ids.append(int(raw.get("product_id")))
        except (TypeError, ValueError):
            ids.append(None)
    products = Product.objects.select_related("sva_integration").in_bulk([i for i in ids if i is not None])
    cleaned, seen, integrations = [], set(), {}
    for index, (raw, product_id) in enumerate(zip(items, ids)):
        field = f"{prefix}.{index}"
        product = products.get(product_id)
        price = _price(raw.get("price"), errors, f"{field}.price")
        if product is None:
            errors.add(f"{field}.product_id", "product_not_found", "Produto não encontrado.")
            continue
        if not product.active:
            errors.add(f"{field}.product_id", "product_inactive", f"Produto inativo: {product.name}.")
        elif product.is_sva and not product.sva_integration.active:
            errors.add(f"{field}.product_id", "integration_inactive",
                       f"A integração SVA de {product.name} está inativa.")
        if product.pk in seen:
            errors.add(f"{field}.product_id", "duplicate_product",
                       f"{product.name} aparece mais de uma vez no plano.")
        elif product.is_sva and product.sva_integration_id in integrations:
            errors.add(f"{field}.product_id", "sva_integration_repeated",
                       f"{product.name}: o plano já tem um pacote da integração {product.sva_integration.name} "
                       f"({integrations[product.sva_integration_id]}). A plataforma aceita um pacote por "
                       "cliente (um usuário SVA por e-mail).")
        seen.add(product.pk)
        if product.is_sva:
            integrations.setdefault(product.sva_integration_id, product.name)
        cleaned.append((product, price))
    return cleaned


def _validate_plan(plan: SalesPlan, errors: FieldErrors) -> None:
    # one rule for free text (core.text): bounded by the column, no control characters
    plan.name = clean_text_into(errors, "name", SalesPlan, "name", plan.name, label="Nome") or ""
    plan.description = clean_text_into(errors, "description", SalesPlan, "description", plan.description,
                                       label="Descrição") or ""
    if not plan.name and "name" not in errors.errors:
        errors.add("name", "name_required", "Informe o nome do plano.")


def _name_taken(name: str) -> Conflict:
    return Conflict(
        "plan_name_exists", f"Já existe um plano de venda chamado “{name}”.",
        fields={"name": [FieldError("plan_name_exists", "Já existe um plano com este nome.")]},
    )


def _save(plan: SalesPlan) -> None:
    if SalesPlan.objects.filter(name__iexact=plan.name).exclude(pk=plan.pk).exists():
        raise _name_taken(plan.name)
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError:
        raise _name_taken(plan.name) from None


def _items_summary(plan: SalesPlan) -> list[str]:
    return [f"{i.product_id}:{'' if i.price is None else i.price}" for i in plan.items.order_by("id")]


def _write_items(plan: SalesPlan, cleaned) -> None:
    SalesPlanItem.objects.bulk_create(
        [SalesPlanItem(plan=plan, product=product, price=price) for product, price in cleaned]
    )


@transaction.atomic
def plan_create(*, name: str, description: str = "", active: bool = True, items=None, actor=None) -> SalesPlan:
    """Create a plan with its items ([{product_id, price}], price optional)."""
    errors = FieldErrors()
    plan = SalesPlan(name=name, description=description, active=bool(active))
    _validate_plan(plan, errors)
    cleaned = _clean_items(list(items or []), errors)
    errors.raise_if_any("Dados do plano de venda inválidos.")
    _save(plan)
    _write_items(plan, cleaned)
    changes = diff({}, {k: getattr(plan, k) for k in FIELDS})
    changes["items"] = [None, _items_summary(plan)]
    record_change(instance=plan, action="create", actor=actor, changes=changes)
    return plan


def _locked(plan: SalesPlan | int) -> SalesPlan:
    pk = plan.pk if isinstance(plan, SalesPlan) else plan
    found = SalesPlan.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFound("Plano de venda", "plan_not_found")
    return found


@transaction.atomic
def plan_update(*, plan: SalesPlan | int, items=None, actor=None, **data) -> SalesPlan:
    """Change the fields given; ``items`` (when given) replaces every item of the plan.
    Contracts already created from the plan keep their products."""
    plan = _locked(plan)
    before = {k: getattr(plan, k) for k in FIELDS}
    before_items = _items_summary(plan)
    for key in FIELDS:
        if data.get(key) is not None:
            setattr(plan, key, bool(data[key]) if key == "active" else data[key])
    errors = FieldErrors()
    _validate_plan(plan, errors)
    cleaned = _clean_items(list(items), errors) if items is not None else None
    errors.raise_if_any("Dados do plano de venda inválidos.")
    _save(plan)
    if cleaned is not None:
        plan.items.all().delete()
        _write_items(plan, cleaned)
    changes = diff(before, {k: getattr(plan, k) for k in FIELDS})
    after_items = _items_summary(plan)
    if after_items != before_items:
        changes["items"] = [before_items, after_items]
    if changes:
        record_change(instance=plan, action="update", actor=actor, changes=changes)
    return plan


@transaction.atomic
def plan_add_item(*, plan: SalesPlan | int, product_id: int, price=None, actor=None) -> SalesPlanItem:
    plan = _locked(plan)
    errors = FieldErrors()
    cleaned = _clean_items([{"product_id": product_id, "price": price}], errors, prefix="item")
    errors.errors = {k.replace("item.0.", ""): v for k, v in errors.errors.items()}
    errors.raise_if_any("Produto do plano inválido.")
    product, price = cleaned[0]
    if plan.items.filter(product=product).exists():
        raise Conflict(
            "plan_product_exists", f"{product.name} já está neste plano.",
            fields={"product_id": [FieldError("plan_product_exists", "Produto já incluído no plano.")]},
        )
    same = plan.items.filter(product__sva_integration_id=product.sva_integration_id).select_related("product")
    other = same.first() if product.is_sva else None
    if other is not None:
        message = (f"O plano já tem um pacote da integração {product.sva_integration.name} ({other.product.name}). "
                   "A plataforma aceita um pacote por cliente (um usuário SVA por e-mail).")
        raise Conflict("sva_integration_repeated", message,
                       fields={"product_id": [FieldError("sva_integration_repeated", message)]})
    item = SalesPlanItem.objects.create(plan=plan, product=product, price=price)
    plan.save(update_fields=["updated_at"])
    record_change(instance=plan, action="add_item", actor=actor,
                  changes={"items": [None, f"{product.pk}:{'' if price is None else price}"]})
    return item


@transaction.atomic
def plan_remove_item(*, plan: SalesPlan | int, item_id: int, actor=None) -> SalesPlanItem:
    plan = _locked(plan)
    item = plan.items.select_related("product").filter(pk=item_id).first()
    if item is None:
        raise NotFound("Produto do plano", "plan_item_not_found")
    item.delete()
    plan.save(update_fields=["updated_at"])
    record_change(instance=plan, action="remove_item", actor=actor,
                  changes={"items": [f"{item.product_id}:{'' if item.price is None else item.price}", None]})
    return item


@transaction.atomic
def plan_delete(*, plan: SalesPlan | int, actor=None) -> None:
    """Delete a plan no contract was created from; otherwise deactivate it instead."""
    plan = _locked(plan)
    used = Contract.objects.filter(sales_plan=plan).count()
    if used:
        raise Conflict(
            "plan_in_use",
            f"O plano “{plan.name}” foi usado em {used} contrato(s) e não pode ser excluído. "
            "Desative-o para que não seja mais oferecido.",
        )
    record_change(instance=plan, action="delete", actor=actor, changes={"name": [plan.name, None]})
    plan.delete()


@transaction.atomic
def contract_create_from_plan(
    *, customer_id: int, plan_id: int, billing_day: int = 10, description: str = "", actor=None
) -> Contract:
    """A pre-contract filled with the plan's products at the plan's prices (Formulário
    Planos de Venda). Activating it then runs the SVA flow (automatic creation when the
    integration allows it). One transaction: a refused item leaves nothing behind."""
    plan = SalesPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise ApplicationError(
            "plan_not_found", "Plano de venda não encontrado.", status_code=404,
            fields={"plan_id": [FieldError("plan_not_found", "Plano de venda não encontrado.")]},
        )
    if not plan.active:
        raise ApplicationError(
            "plan_inactive", f"O plano de venda “{plan.name}” está inativo.", status_code=422,
            fields={"plan_id": [FieldError("plan_inactive", "Plano de venda inativo.")]},
        )
    items = list(plan.items.select_related("product__sva_integration").order_by("id"))
    if not items:
        raise ApplicationError(
            "plan_empty", f"O plano de venda “{plan.name}” não tem produtos.", status_code=422,
            fields={"plan_id": [FieldError("plan_empty", "Plano sem produtos.")]},
        )
    errors = FieldErrors()
    _clean_items([{"product_id": i.product_id, "price": i.price} for i in items], errors)
    if errors:
        problems = "; ".join(e.message for errs in errors.errors.values() for e in errs)
        raise ApplicationError(
            "plan_product_unavailable",
            f"O plano de venda “{plan.name}” tem produto que não pode ser vendido: {problems} Corrija o plano.",
            status_code=422,
            fields={"plan_id": [FieldError("plan_product_unavailable", problems)]},
        )
    contract = contract_create(customer_id=customer_id, billing_day=billing_day, description=description,
                               actor=actor, sales_plan_id=plan.pk)
    contract.sales_plan = plan
    for item in items:
        contract_add_product(contract=contract, product_id=item.product_id, price=item.price, actor=actor)
    record_change(instance=contract, action="create_from_plan", actor=actor,
                  changes={"sales_plan_id": [None, plan.pk], "sales_plan": [None, plan.name]})
    contract.refresh_from_db()
    return contract

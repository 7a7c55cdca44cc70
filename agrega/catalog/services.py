"""Writes for products, including the SVA tab (integration + package)."""

from __future__ import annotations


from django.db import IntegrityError, transaction

from agrega.core.audit import diff, record_change
from agrega.core.errors import ApplicationError, Conflict, FieldError, FieldErrors
from agrega.core.money import AmountInvalid, parse_amount
from agrega.core.text import clean_text_into
from agrega.integrations.connectors.base import ConnectorError
from agrega.integrations.models import SvaIntegration
from agrega.integrations.services import connector_for

from .models import Product
from .signals import product_changed

FIELDS = ("name", "price", "fiscal_class", "active", "sva_integration_id", "sva_package_code")


def _check_package(integration: SvaIntegration, code: str) -> str | None:
    """Check the package against the platform's catalogue when the platform answers.

    Returns a warning (Portuguese) when the catalogue could not be read; raises when the
    platform answered and the package is not in it.
    """
    connector = connector_for(integration)
    try:
        packages = connector.list_packages()
    except ConnectorError as exc:
        return f"Catálogo da plataforma indisponível ({exc.message}); pacote não verificado."
    finally:
        connector.close()
    codes = {p.code for p in packages}
    if code not in codes:
        raise ApplicationError(
            "sva_package_unknown",
            "Pacote SVA não encontrado no catálogo da plataforma.",
            status_code=422,
            fields={"sva_package_code": [FieldError(
                "sva_package_unknown",
                "Pacote não existe na plataforma. Disponíveis: " + ", ".join(sorted(codes)),
            )]},
        )
    return None


def _validate(product: Product, *, check_catalogue: bool) -> list[str]:
    errors = FieldErrors()
    warnings: list[str] = []
    name = clean_text_into(errors, "name", Product, "name", product.name, label="Descrição")
    product.name = name or ""
    if name == "":
        errors.add("name", "name_required", "Informe a descrição do produto.")
    try:
        product.price = parse_amount(product.price, allow_zero=True)
    except AmountInvalid as exc:
        errors.add("price", exc.code, exc.message)
    if product.fiscal_class not in Product.FiscalClass.values:
        errors.add("fiscal_class", "fiscal_class_invalid", "Classe fiscal inválida.")
    product.sva_package_code = (product.sva_package_code or "").strip()
    integration = None
    if product.sva_integration_id is not None:
        integration = SvaIntegration.objects.filter(pk=product.sva_integration_id).first()
        if integration is None:
            errors.add("sva_integration_id", "integration_not_found", "Integração SVA não encontrada.")
        if not product.sva_package_code:
            errors.add("sva_package_code", "sva_package_required", "Informe o pacote SVA principal.")
    elif product.sva_package_code:
        errors.add("sva_integration_id", "sva_integration_required", "Informe a integração SVA do pacote.")
    errors.raise_if_any()
    if integration is not None:
        other = (
            Product.objects.filter(sva_integration=integration, sva_package_code=product.sva_package_code)
            .exclude(pk=product.pk)
            .first()
        )
        if other is not None:
            raise _package_in_use(other)
        if check_catalogue:
            warning = _check_package(integration, product.sva_package_code)
            if warning:
                warnings.append(warning)
    return warnings


def _package_in_use(other: Product | None) -> Conflict:
    who = f" (produto {other.pk} — {other.name})" if other else ""
    return Conflict(
        "sva_package_in_use",
        f"Este pacote SVA já está vinculado a outro produto{who}. Cada pacote corresponde a um único produto.",
        fields={"sva_package_code": [FieldError("sva_package_in_use", f"Pacote já usado{who}.")]},
    )


def _save(product: Product) -> None:
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError:
        # Two saves racing for the same package: the database constraint decides.
        raise _package_in_use(None) from None


@transaction.atomic
def product_create(*, actor=None, **data) -> tuple[Product, list[str]]:
    """Create a product; returns it with warnings (e.g. catalogue not reachable)."""
    product = Product(**{k: v for k, v in data.items() if k in FIELDS and v is not None})
    warnings = _validate(product, check_catalogue=product.sva_integration_id is not None)
    _save(product)
    record_change(instance=product, action="create", actor=actor,
                  changes=diff({}, {k: getattr(product, k) for k in FIELDS}))
    return product, warnings


@transaction.atomic
def product_update(*, product: Product, actor=None, **data) -> tuple[Product, list[str]]:
    previous = {k: getattr(product, k) for k in FIELDS}
    for key, value in data.items():
        if key in FIELDS and (value is not None or key == "sva_integration_id"):
            setattr(product, key, value)
    if "sva_integration_id" in data and data["sva_integration_id"] is None and "sva_package_code" not in data:
        product.sva_package_code = ""
    changed = {k for k in FIELDS if getattr(product, k) != previous[k]}
    sva_changed = bool(changed & {"sva_integration_id", "sva_package_code"})
    warnings = _validate(product, check_catalogue=sva_changed and product.sva_integration_id is not None)
    if not changed:
        return product, warnings
    _save(product)
    record_change(instance=product, action="update", actor=actor,
                  changes=diff(previous, {k: getattr(product, k) for k in changed}))
    product_changed.send(sender=Product, product=product, changed=changed, previous=previous)
    return product, warnings

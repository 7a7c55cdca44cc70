"""The SVA app's side of the hooks of contracts, customers and products.

Each receiver runs inside the transaction that changed the contract, customer or
product, so the SVA intent (a new user, a version bump) commits with the change or not
at all (docs/decisions/0002-convergence.md)."""

from django.dispatch import receiver

from agrega.catalog.signals import product_changed
from agrega.consent.signals import consent_changed
from agrega.contracts.choices import ContractStatus
from agrega.contracts.signals import (
    contract_activated,
    contract_product_added,
    contract_product_removed,
    contracts_changed,
)
from agrega.core.errors import Conflict, FieldError, ValidationFailed
from agrega.customers.signals import customer_anonymized, customer_changed
from agrega.integrations.signals import integration_changed

from . import selectors, services
from .models import SvaUser

REGISTRATION_FIELDS = {"email", "mobile_phone", "document", "name"}


@receiver(contracts_changed)
def _contracts_changed(sender, contract_ids, **kwargs):
    services.bump_contracts(list(contract_ids))


@receiver(contract_activated)
def _contract_activated(sender, contract, actor=None, **kwargs):
    services.sva_users_auto_create_for_contract(contract=contract, actor=actor)


@receiver(contract_product_added)
def _product_added(sender, contract_product, actor=None, replaces=None, **kwargs):
    if replaces is not None:  # the platform changes the package in place: keep the account
        services.sva_user_move(from_item=replaces, to_item=contract_product, actor=actor)
    if contract_product.sva_account_customer is not None:
        # The customer is back: the account of a cancelled contract waiting for its
        # removal (sva.retention) would hold the e-mail the new one needs; remove it now.
        services.sva_users_remove_cancelled(
            customer_id=contract_product.sva_account_customer,
            integration_id=contract_product.sva_account_integration, actor=actor)
    if contract_product.contract.status == ContractStatus.ACTIVE:
        services.sva_user_auto_create(contract_product=contract_product, actor=actor)


@receiver(contract_product_removed)
def _product_removed(sender, contract_product, actor=None, **kwargs):
    for user in SvaUser.objects.filter(services.LIVE, contract_product=contract_product):
        services.sva_user_delete(sva_user=user, actor=actor)


@receiver(customer_changed)
def _customer_changed(sender, customer, changed, **kwargs):
    """A change a platform where the customer has an SVA user could not take is refused
    (rolled back with the customer's save) with the platform's reason; other changes
    re-check the customer's users."""
    if changed & REGISTRATION_FIELDS:
        problems = selectors.customer_platform_problems(customer, changed)
        if problems:
            fields: dict[str, list[FieldError]] = {}
            for p in problems:
                fields.setdefault(p["field"], []).append(FieldError(p["code"], p["message"]))
            raise ValidationFailed(
                fields, "O cliente tem usuário SVA em plataforma que não aceita estes dados: "
                + "; ".join(p["message"] for p in problems))
        services.sva_users_refresh_registration(
            queryset=SvaUser.objects.filter(contract__customer=customer)
        )


@receiver(product_changed)
def _product_changed(sender, product, changed, previous, **kwargs):
    users = SvaUser.objects.filter(services.LIVE, contract_product__product=product)
    if "sva_integration_id" in changed and users.exists():
        raise Conflict(
            "product_has_sva_users",
            "Não é possível trocar a integração SVA de um produto que já tem usuários SVA. "
            "Crie um novo produto para a outra integração.",
        )
    if "sva_package_code" in changed:
        services.bump(users)


# Consent gate (agrega.consent; see services._consent_gate): a consent recorded or revoked
# re-checks the users of that (contract, product); a change of the integration's rule
# re-checks its users not yet created on the platform.
@receiver(consent_changed)
def _consent_changed(sender, contract_id, product_id, **kwargs):
    services.sva_users_refresh_registration(
        queryset=SvaUser.objects.filter(contract_id=contract_id, contract_product__product_id=product_id)
    )


@receiver(integration_changed)
def _integration_changed(sender, integration, changed, **kwargs):
    if "requires_consent" in changed:
        services.sva_users_refresh_registration(
            queryset=services.not_created_on_platform(SvaUser.objects.filter(integration=integration))
        )


@receiver(customer_anonymized)
def _customer_anonymized(sender, customer, **kwargs):
    """LGPD: remove the customer's SVA accounts (the worker deletes them on the platform)
    and erase the copies of personal data kept here: typed values, what the platform
    confirmed, the bodies of the timeline's calls and the change history."""
    from agrega.core.models import ChangeRecord

    from .models import SvaCall

    users = SvaUser.objects.filter(contract__customer=customer)
    for user in users.filter(services.LIVE):
        services.sva_user_delete(sva_user=user)
    ids = list(users.values_list("pk", flat=True))
    users.update(email="", phone="", document="", use_customer_data=False, confirmed_email="", confirmed_phone="",
                 confirmed_document="", confirmed_name="", registration_problems=[])
    SvaCall.objects.filter(sva_user_id__in=ids).update(request={}, response={})
    ChangeRecord.objects.filter(object_type="sva.svauser", object_id__in=[str(i) for i in ids]).update(
        changes={"anonimizado": True})

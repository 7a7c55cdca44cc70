"""One declaration of a list's filters (core/filtersets.py) serves the page, the API and the
CLI: the three see the same filters, choices and refusals, and the queryset is the ORM's
answer to the filters given."""

from __future__ import annotations

import argparse
import typing

import pytest

from agrega.billing.filtersets import InvoiceFilterSet, PaymentFilterSet, RevenueReportFilterSet
from agrega.catalog.filtersets import ProductFilterSet
from agrega.campaigns.filtersets import CampaignFilterSet, CampaignItemFilterSet, CampaignListFilterSet
from agrega.contracts.choices import AccessStatus, ContractStatus
from agrega.contracts.filtersets import ContractFilterSet
from agrega.contracts.forms import ContractFilterForm
from agrega.contracts.models import Contract
from agrega.core.errors import FieldErrors, ValidationFailed
from agrega.consent.filtersets import ConsentFilterSet, WithoutConsentFilterSet
from agrega.customers.filtersets import CustomerFilterSet
from agrega.fiscal.filtersets import NFComFilterSet
from agrega.imports.filtersets import ImportJobFilterSet, ImportRowFilterSet
from agrega.notices.filtersets import NoticeFilterSet
from agrega.plans.filtersets import PlanFilterSet
from agrega.sva.filtersets import ReconciliationItemFilterSet, ReconciliationRunFilterSet, SvaUserFilterSet
from agrega.core.users_filtersets import UserFilterSet
from agrega.integrations.filtersets import IntegrationFilterSet

FILTERSETS = [ContractFilterSet, InvoiceFilterSet, CampaignFilterSet, SvaUserFilterSet, CustomerFilterSet,
              ImportJobFilterSet, ImportRowFilterSet, NoticeFilterSet, ConsentFilterSet, WithoutConsentFilterSet,
              ProductFilterSet, PlanFilterSet, CampaignListFilterSet, CampaignItemFilterSet, UserFilterSet,
              IntegrationFilterSet, ReconciliationRunFilterSet, ReconciliationItemFilterSet,
              RevenueReportFilterSet, NFComFilterSet, PaymentFilterSet]


@pytest.mark.parametrize("filterset", FILTERSETS)
def test_the_cli_offers_every_filter_with_the_same_choices(filterset):
    parser = argparse.ArgumentParser()
    filterset.add_arguments(parser)
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    assert {spec.dest for spec in filterset.filters} == set(actions)
    for spec in filterset.filters:
        if spec.choices is not None:
            assert list(actions[spec.dest].choices) == list(spec.choices.values)


@pytest.mark.parametrize("filterset", FILTERSETS)
def test_the_form_offers_every_filter_with_the_same_choices(filterset):
    form = filterset.form_class()()
    assert list(form.fields) == list(filterset.names())
    for spec in filterset.filters:
        if spec.choices is not None:
            assert [v for v, _ in form.fields[spec.name].choices][1:] == list(spec.choices.values)


def test_the_api_parameter_of_a_closed_set_is_the_enum():
    (enum, _none) = typing.get_args(typing.get_args(ContractFilterSet.api_type("status"))[0])
    assert enum is ContractStatus


def test_cli_options_reach_the_same_values_as_the_api():
    parser = argparse.ArgumentParser()
    ContractFilterSet.add_arguments(parser)
    options = vars(parser.parse_args(["--status", "a", "--access-status", "FA", "--customer", "7", "--search", " Ana "]))
    assert ContractFilterSet(ContractFilterSet.from_options(options)).clean() == {
        "status": "A", "access_status": "FA", "customer_id": 7, "q": "Ana"}


def test_unknown_filters_and_values_are_refused_with_a_code_each():
    with pytest.raises(ValidationFailed) as exc:
        ContractFilterSet({"status": "Z", "customer_id": "abc", "cidade": "x"}).clean()
    assert {name: [e.code for e in errors] for name, errors in exc.value.fields.items()} == {
        "status": ["filter_invalid"], "customer_id": ["filter_invalid"], "cidade": ["filter_unknown"]}
    assert exc.value.status_code == 422


def test_a_list_keeps_its_own_codes_and_database_checks(db):
    errors = FieldErrors()
    assert CampaignFilterSet({"status": "Z", "has_product_id": 999999}).clean_into(errors) == {"has_product_id": 999999}
    assert errors
    with pytest.raises(ValidationFailed) as exc:
        CampaignFilterSet({"status": "Z", "has_product_id": 999999}).clean()
    assert {n: [e.code for e in errs] for n, errs in exc.value.fields.items()} == {
        "status": ["status_invalid"], "has_product_id": ["product_not_found"]}


def test_the_queryset_is_the_orms_answer(make_contract, make_customer):
    ana = make_customer(name="Ana Souza")
    bia = make_customer(name="Beatriz Lima")
    first, second, third = make_contract(ana), make_contract(ana), make_contract(bia)
    Contract.objects.filter(pk=second.pk).update(status=ContractStatus.ACTIVE, access_status=AccessStatus.ACTIVE)
    cases = [
        ({}, Contract.objects.all()),
        ({"status": "A"}, Contract.objects.filter(status="A")),
        ({"q": "ana"}, Contract.objects.filter(customer=ana)),
        ({"q": "souza", "status": "P"}, Contract.objects.filter(customer=ana, status="P")),
        ({"customer_id": bia.pk}, Contract.objects.filter(customer=bia)),
    ]
    for data, expected in cases:
        assert list(ContractFilterSet(data).queryset()) == list(expected.order_by("id")), data
    assert {first.pk, third.pk} <= set(ContractFilterSet({"status": "P"}).queryset().values_list("pk", flat=True))


def test_the_page_form_is_the_filtersets():
    form = ContractFilterForm({"status": "A", "q": "x", "cursor": "3"})
    assert form.is_valid() and set(form.fields) == {"status", "access_status", "q", "cursor"}
    assert not ContractFilterForm({"status": "Z"}).is_valid()


@pytest.mark.parametrize("filterset", FILTERSETS)
def test_every_form_checks_its_values_with_the_filterset(filterset):
    """A page's form refuses what the FilterSet refuses, next to the field, in Portuguese —
    also for a FilterSet scoped by its own arguments (a campaign's report)."""
    choice = next((spec for spec in filterset.filters if spec.choices is not None), None)
    if choice is None:
        pytest.skip("no closed filter")
    form = filterset.form_class()({choice.name: "__desconhecido__"})
    assert not form.is_valid() and form.errors[choice.name]
    valid = filterset.form_class()({choice.name: list(choice.choices.values)[0]})
    assert valid.is_valid(), valid.errors
    assert valid.filter_values == {choice.name: list(choice.choices.values)[0]}

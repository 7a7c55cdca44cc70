"""Writes for customers. Every entry point (API, CLI, pages) goes through here."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from agrega.core.audit import diff, record_change
from agrega.core.br import InvalidValue, clean_document, clean_email, clean_mobile, document_kind, digits
from agrega.core.errors import Conflict, FieldError, FieldErrors, InvalidTransition
from agrega.core.text import clean_model_text, clean_text

from .models import Customer
from .signals import customer_changed

EDITABLE_FIELDS = (
    "name", "document", "email", "mobile_phone", "street", "number", "district", "city",
    "state", "zip_code", "ibge_code", "ind_ie_dest", "ie",
)
FREE_TEXT = ("name", "street", "number", "district", "city")
UF = {
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA", "PB",
    "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
}


def _clean(data: dict, *, partial: bool) -> dict:
    """Normalise and check the given fields; collect every error before raising."""
    errors = FieldErrors()
    clean: dict = {}
    for name, value in data.items():
        if name not in EDITABLE_FIELDS:
            continue
        try:
            # one rule for free text (core.text): bounded, no control or invisible-only
            value = "" if value is None else value
            value = (clean_model_text(Customer, name, value) if name in FREE_TEXT
                     else clean_text(value, max_length=64))
            if name == "name" and not value:
                raise InvalidValue("name_required", "Informe o nome ou a razão social.")
            if name == "document":
                value = clean_document(value)
            elif name == "email":
                value = clean_email(value) if value else ""
            elif name == "mobile_phone":
                value = clean_mobile(value) if value else ""
            elif name == "state":
                value = value.upper()
                if value and value not in UF:
                    raise InvalidValue("state_invalid", "UF inválida.")
            elif name == "ibge_code":
                value = digits(value)
                if value and len(value) != 7:
                    raise InvalidValue("ibge_code_invalid", "Código IBGE do município inválido: deve ter 7 dígitos.")
            elif name == "ind_ie_dest":
                if value not in ("", "1", "2", "9"):
                    raise InvalidValue("ind_ie_dest_invalid",
                                       "Indicador de IE inválido: 1 (contribuinte), 2 (isento) ou 9 (não contribuinte).")
            elif name == "ie":
                value = value.upper().replace(".", "").replace("-", "").replace("/", "")
                if value and not (value == "ISENTO" or (value.isdigit() and 2 <= len(value) <= 14)):
                    raise InvalidValue("ie_invalid", "Inscrição estadual inválida: até 14 dígitos.")
            elif name == "zip_code":
                value = digits(value)
                if value and len(value) != 8:
                    raise InvalidValue("zip_code_invalid", "CEP inválido: deve ter 8 dígitos.")
        except InvalidValue as exc:
            errors.add(name, exc.code, exc.message)
            continue
        clean[name] = value
    if not partial:
        for required in ("name", "document"):
            if required not in data and not errors.errors.get(required):
                errors.add(required, f"{required}_required", "Campo obrigatório.")
    errors.raise_if_any()
    return clean


def _save(customer: Customer) -> None:
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        raise Conflict(
            "document_in_use",
            "Já existe um cliente com este CPF/CNPJ.",
            fields={"document": [FieldError("document_in_use", "CPF/CNPJ já cadastrado.")]},
        ) from None


@transaction.atomic
def customer_create(*, actor=None, **data) -> Customer:
    clean = _clean(data, partial=False)
    customer = Customer(**clean, person_type=document_kind(clean["document"]))
    _save(customer)
    record_change(instance=customer, action="create", actor=actor, changes=diff({}, clean))
    return customer


def customers_create_many(*, customers: list[dict]) -> dict[str, int]:
    """Customers in bulk (the CSV import), in one INSERT: each a dict of Customer's
    fields, already checked and cleaned by the caller, who holds the transaction and
    records the audit. Returns {document: new id}."""
    from agrega.core.bulk import insert_dicts

    return {document: pk for pk, document in insert_dicts(Customer, customers, returning=("id", "document"))}


@transaction.atomic
def customer_update(*, customer: Customer, actor=None, **data) -> Customer:
    if customer.anonymized_at is not None:
        raise InvalidTransition("customer_anonymized",
                                "Este cliente foi anonimizado (LGPD); seus dados não podem ser alterados.")
    clean = _clean(data, partial=True)
    changed = {k for k, v in clean.items() if getattr(customer, k) != v}
    if not changed:
        return customer
    before = {k: getattr(customer, k) for k in changed}
    for key in changed:
        setattr(customer, key, clean[key])
    customer.person_type = document_kind(customer.document)
    _save(customer)
    record_change(instance=customer, action="update", actor=actor,
                  changes=diff(before, {k: clean[k] for k in changed}))
    customer_changed.send(sender=Customer, customer=customer, changed=changed)
    return customer

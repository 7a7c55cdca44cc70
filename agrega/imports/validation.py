"""The rules of one line of "clientes e contratos": the same checks the customer and
contract services make (CPF/CNPJ check digits, e-mail, celular, UF, CEP, billing day,
product and plan), done in Python with the catalogue in memory, so the dry run and the
import judge every line alike and 100,000 lines are checked in seconds.

A line is a list of messages, each ``{"field", "code", "message", "level"}`` with level
``error`` (the line is rejected), ``warning`` (imported, but look at it) or ``info``."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from agrega.catalog.models import Product
from agrega.contracts.choices import ContractStatus, ProductKind
from agrega.core.br import InvalidValue, clean_document, clean_email, clean_mobile, digits, document_kind
from agrega.core.money import AmountInvalid, parse_amount
from agrega.core.text import clean_text
from agrega.customers.services import UF
from agrega.integrations.connectors.registry import platform_allows
from agrega.plans.models import SalesPlan

from .layout import LABELS

ERROR, WARNING, INFO = "error", "warning", "info"
MAX_LENGTH = {"nome": 200, "endereco": 200, "numero": 20, "bairro": 100, "cidade": 100,
              "descricao": 200, "contrato_ref": 100}
OTHER_MAX_LENGTH = 2000  # any other column (products, plan, document…): still bounded
CUSTOMER_FIELDS = {  # our column → Customer field
    "nome": "name", "cpf_cnpj": "document", "email": "email", "celular": "mobile_phone",
    "endereco": "street", "numero": "number", "bairro": "district", "cidade": "city",
    "uf": "state", "cep": "zip_code",
}
STATUS_WORDS = {
    "p": ContractStatus.PRE_CONTRACT, "pre": ContractStatus.PRE_CONTRACT,
    "pre_contrato": ContractStatus.PRE_CONTRACT, "pré-contrato": ContractStatus.PRE_CONTRACT,
    "a": ContractStatus.ACTIVE, "ativo": ContractStatus.ACTIVE,
}


def message(field_name: str, code: str, text: str, level: str = ERROR, *, labelled: bool = True) -> dict:
    """``labelled``: prefix the column's label (the shared Brazilian checks name it already)."""
    label = LABELS.get(field_name, field_name) if labelled else ""
    return {"field": field_name, "code": code, "message": f"{label}: {text}" if label else text, "level": level}


@dataclass
class ProductLine:
    product_id: int
    name: str
    kind: str
    price: Decimal | None
    is_sva: bool
    # the SVA integration whose single account per customer this item holds
    # (contracts.ContractProduct.sva_account_integration), or None
    account_integration: int | None = None


@dataclass
class Line:
    index: int
    line: int
    ref: str
    messages: list[dict] = field(default_factory=list)
    customer: dict = field(default_factory=dict)
    billing_day: int = 10
    description: str = ""
    sales_plan_id: int | None = None
    activate: bool = False
    products: list[ProductLine] = field(default_factory=list)
    duplicate_of: int | None = None  # contract id, when the reference was imported before
    contract_id: int | None = None  # the contract created from the line

    @property
    def ok(self) -> bool:
        return not any(m["level"] == ERROR for m in self.messages)

    @property
    def has_warnings(self) -> bool:
        return any(m["level"] == WARNING for m in self.messages)

    def add(self, *args, **kwargs) -> None:
        self.messages.append(message(*args, **kwargs))

    def refused(self, column: str) -> bool:
        """The column's cell was refused already (no second message for it)."""
        return any(m["field"] == column and m["level"] == ERROR for m in self.messages)


def parse_price(text: str) -> Decimal:
    """``9,90``, ``1.234,56`` or ``9.90`` → Decimal (core/money.py); raises AmountInvalid."""
    return parse_amount(text, allow_zero=True)


class Catalog:
    """Products and sales plans in memory, looked up by id, SVA package or name."""

    def __init__(self) -> None:
        self.products: dict[int, Product] = {}
        self.by_code: dict[str, list[Product]] = {}
        self.by_name: dict[str, list[Product]] = {}
        for product in Product.objects.select_related("sva_integration"):
            self.products[product.pk] = product
            if product.sva_package_code:
                self.by_code.setdefault(product.sva_package_code.lower(), []).append(product)
            self.by_name.setdefault(product.name.strip().lower(), []).append(product)
        self.plans: dict[int, SalesPlan] = {}
        self.plans_by_name: dict[str, SalesPlan] = {}
        self.plan_items: dict[int, list[tuple[int, Decimal | None]]] = {}
        for plan in SalesPlan.objects.prefetch_related("items"):
            self.plans[plan.pk] = plan
            self.plans_by_name[plan.name.strip().lower()] = plan
            self.plan_items[plan.pk] = [(item.product_id, item.price) for item in plan.items.all()]

    def product(self, ref: str) -> tuple[Product | None, str, str]:
        """(product, error code, message) for a reference from the file."""
        key = ref.strip()
        if key.isdigit() and int(key) in self.products:
            return self.products[int(key)], "", ""
        for index in (self.by_code, self.by_name):
            found = index.get(key.lower(), [])
            if len(found) == 1:
                return found[0], "", ""
            if len(found) > 1:
                ids = ", ".join(str(p.pk) for p in found)
                return None, "product_ambiguous", f"'{key}' corresponde a mais de um produto (IDs {ids}); use o ID."
        return None, "product_unknown", f"produto desconhecido: '{key}'."

    def plan(self, ref: str) -> SalesPlan | None:
        key = ref.strip()
        if key.isdigit() and int(key) in self.plans:
            return self.plans[int(key)]
        return self.plans_by_name.get(key.lower())


def _customer(line: Line, values: dict[str, str]) -> None:
    data: dict[str, str] = {}
    name = values.get("nome", "")
    if not name and not line.refused("nome"):
        line.add("nome", "name_required", "obrigatório.")
    data["name"] = name
    try:
        data["document"] = clean_document(values.get("cpf_cnpj", ""))
    except InvalidValue as exc:
        if not line.refused("cpf_cnpj"):
            line.add("cpf_cnpj", exc.code, exc.message, labelled=False)
    for column, clean in (("email", clean_email), ("celular", clean_mobile)):
        value = values.get(column, "")
        try:
            data[CUSTOMER_FIELDS[column]] = clean(value) if value else ""
        except InvalidValue as exc:
            line.add(column, exc.code, exc.message, labelled=exc.code.endswith("_required"))
    state = values.get("uf", "").upper()
    if state and state not in UF:
        line.add("uf", "state_invalid", f"UF inválida: '{state}'.")
    data["state"] = state
    zip_code = digits(values.get("cep", ""))
    if zip_code and len(zip_code) != 8:
        line.add("cep", "zip_code_invalid", "CEP inválido: deve ter 8 dígitos.")
    data["zip_code"] = zip_code
    for column in ("endereco", "numero", "bairro", "cidade"):
        data[CUSTOMER_FIELDS[column]] = values.get(column, "")
    if "document" in data:
        data["person_type"] = document_kind(data["document"])
    line.customer = data


def _contract(line: Line, values: dict[str, str], catalog: Catalog) -> None:
    day = values.get("dia_vencimento", "")
    if day:
        if not day.isdigit() or not 1 <= int(day) <= 31:
            line.add("dia_vencimento", "billing_day_invalid", f"'{day}' inválido: deve estar entre 1 e 31.")
        else:
            line.billing_day = int(day)
    line.description = values.get("descricao", "")
    status = values.get("status", "").strip().lower()
    if status:
        if status not in STATUS_WORDS:
            line.add("status", "status_invalid", f"'{values['status']}' inválido: use P (pré-contrato) ou A (ativo).")
        else:
            line.activate = STATUS_WORDS[status] == ContractStatus.ACTIVE

    chosen: dict[int, ProductLine] = {}
    plan_ref = values.get("plano", "")
    if plan_ref:
        plan = catalog.plan(plan_ref)
        if plan is None:
            line.add("plano", "plan_unknown", f"plano de venda desconhecido: '{plan_ref}'.")
        elif not plan.active:
            line.add("plano", "plan_inactive", f"o plano '{plan.name}' está inativo.")
        elif not catalog.plan_items[plan.pk]:
            line.add("plano", "plan_empty", f"o plano '{plan.name}' não tem produtos.")
        else:
            line.sales_plan_id = plan.pk
            for product_id, price in catalog.plan_items[plan.pk]:
                product = catalog.products[product_id]
                if not product.active:
                    line.add("plano", "product_inactive", f"o produto '{product.name}' do plano está inativo.")
                    continue
                chosen[product.pk] = _product_line(product, price)
    for item in filter(None, (p.strip() for p in values.get("produtos", "").split("|"))):
        ref, _, price_text = item.partition("=")
        product, code, text = catalog.product(ref)
        if product is None:
            line.add("produtos", code, text)
            continue
        if not product.active:
            line.add("produtos", "product_inactive", f"o produto '{product.name}' está inativo.")
            continue
        price = None
        if price_text.strip():
            try:
                price = parse_price(price_text)
            except AmountInvalid as exc:
                line.add("produtos", exc.code, f"valor inválido para '{ref.strip()}': {exc.message}")
                continue
        if product.pk in chosen and price is None:
            continue  # listed again without a price: the plan's line stays
        chosen[product.pk] = _product_line(product, price)
    line.products = list(chosen.values())
    if line.ok and not line.products:
        line.add("produtos", "no_products", "o contrato fica sem produtos.", WARNING)
    if line.ok and any(p.is_sva for p in line.products):
        missing = [LABELS[c] for c, f in (("email", "email"), ("celular", "mobile_phone"))
                   if not line.customer.get(f)]
        if missing:
            line.add("email" if "E-mail principal" in missing else "celular", "registration_incomplete",
                     f"sem {' e '.join(missing).lower()}: o usuário SVA ficará aguardando o cadastro.", WARNING)
        _platform_rules(line, [catalog.products[p.product_id] for p in line.products if p.is_sva])


# UserSpec field → the file's column
_RULE_COLUMNS = {"name": "nome", "email": "email", "phone": "celular", "document": "cpf_cnpj"}


def _platform_rules(line: Line, products: list[Product]) -> None:
    """Data the platform of an SVA product could not take (its connector's DataRules):
    the customer gets a user there when the integration creates users itself, so the
    line is refused now rather than the user failing later."""
    from agrega.sva.selectors import platform_rules

    seen = set()
    for product in products:
        integration = product.sva_integration
        if integration is None or integration.pk in seen or not (integration.auto_create_users and integration.active):
            continue
        seen.add(integration.pk)
        rules, platform = platform_rules(integration)
        if rules is None:
            continue
        data = line.customer
        for problem in rules.problems(platform, name=data.get("name", ""), email=data.get("email"),
                                      phone=data.get("mobile_phone"), document=data.get("document")):
            column = _RULE_COLUMNS[problem.field]
            if not any(m["field"] == column and m["code"] == problem.code for m in line.messages):
                line.add(column, problem.code, problem.message)


def _product_line(product: Product, price) -> ProductLine:
    integration = product.sva_integration
    one_account = integration is not None and platform_allows(integration.platform, "one_account_per_customer")
    return ProductLine(product.pk, product.name, ProductKind.SVA if product.is_sva else ProductKind.OTHER,
                       price, product.is_sva, integration.pk if one_account else None)


def _clean_cells(line: Line, values: dict[str, str]) -> dict[str, str]:
    """Every cell through the one rule for free text (core.text.clean_text): trimmed,
    bounded, no NUL or control character, not invisible-only. A refused cell rejects its
    line (the others still import) and is left out of the line's other checks."""
    clean: dict[str, str] = {}
    for column, value in values.items():
        try:
            clean[column] = clean_text(value, max_length=MAX_LENGTH.get(column, OTHER_MAX_LENGTH))
        except InvalidValue as exc:
            line.add(column, exc.code, exc.message)
            clean[column] = ""
    return clean


def parse_line(index: int, line_number: int, values: dict[str, str], catalog: Catalog,
               first_index_of_ref: dict[str, int]) -> Line:
    """Every problem of one record (nothing read from the database but the catalogue)."""
    line = Line(index=index, line=line_number, ref="")
    values = _clean_cells(line, values)
    ref = values.get("contrato_ref", "")
    line.ref = ref
    if not ref and not line.refused("contrato_ref"):
        line.add("contrato_ref", "ref_required", "obrigatório (é o que impede importar o contrato duas vezes).")
    elif first_index_of_ref.get(ref, index) < index:
        line.add("contrato_ref", "ref_repeated", f"'{ref}' repetido no arquivo: vale só a primeira linha com ele.")
    _customer(line, values)
    _contract(line, values, catalog)
    return line


def customer_differences(line: Line, existing: dict) -> list[str]:
    """The registration fields where the file differs from the customer already here."""
    labels = {"name": "nome", "email": "e-mail", "mobile_phone": "celular"}
    return [label for key, label in labels.items()
            if line.customer.get(key) and (existing.get(key) or "") != line.customer.get(key)]

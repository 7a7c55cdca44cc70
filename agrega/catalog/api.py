"""/api/products: products (Sistema > Cadastros > Produtos), including the SVA tab."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from agrega.core.api import Cursor, ErrorOut, InputSchema, Page, keyset_page
from agrega.core.text import ModelText, Text
from agrega.catalog.models import Product
from agrega.core.errors import NotFound
from agrega.core.money import PriceIn

from . import selectors, services
from .filtersets import ProductFilterSet

router = Router(tags=["Produtos"])


class ProductOut(Schema):
    id: int
    name: str
    price: Decimal
    fiscal_class: str
    active: bool
    is_sva: bool
    sva_integration_id: int | None
    sva_package_code: str
    created_at: datetime
    updated_at: datetime


class ProductSavedOut(ProductOut):
    warnings: list[str]


class ProductCreateIn(InputSchema):
    name: ModelText(Product, "name")
    price: PriceIn | None = None
    fiscal_class: Text(5) | None = None
    active: bool | None = None
    sva_integration_id: int | None = None
    sva_package_code: ModelText(Product, "sva_package_code") | None = None


class ProductUpdateIn(InputSchema):
    name: ModelText(Product, "name") | None = None
    price: PriceIn | None = None
    fiscal_class: Text(5) | None = None
    active: bool | None = None
    sva_integration_id: int | None = None
    sva_package_code: ModelText(Product, "sva_package_code") | None = None


def _saved(product, warnings: list[str]) -> ProductSavedOut:
    return ProductSavedOut(**ProductOut.from_orm(product).dict(), warnings=warnings)


def _get(product_id: int):
    product = selectors.product_get(product_id)
    if product is None:
        raise NotFound("Produto", "product_not_found")
    return product


@router.get(
    "",
    response={200: Page[ProductOut], 401: ErrorOut, 422: ErrorOut},
    summary="Listar produtos",
    description="Filtros: `q` (descrição ou código do pacote), `sva_integration_id`, `is_sva`, "
    "`active`.",
)
def product_list(
    request: HttpRequest,
    q: ProductFilterSet.api_type("q") | None = None,
    sva_integration_id: ProductFilterSet.api_type("sva_integration_id") | None = None,
    is_sva: ProductFilterSet.api_type("is_sva") | None = None,
    active: ProductFilterSet.api_type("active") | None = None,
    cursor: Cursor | None = None,
    limit: int = Query(50, ge=1, le=500),
):
    # the filters are ProductFilterSet's (catalog/filtersets.py), as on the page and in the CLI
    qs = selectors.product_list(
        q=q, sva_integration_id=sva_integration_id, is_sva=is_sva, active=active
    )
    items, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "",
    response={201: ProductSavedOut, 401: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Cadastrar produto",
    description="Com `sva_integration_id`, o pacote é conferido no catálogo da plataforma; se ela "
    "não responder, o produto é salvo com um aviso em `warnings`.",
)
def product_create(request: HttpRequest, payload: ProductCreateIn):
    product, warnings = services.product_create(actor=request.user, **payload.dict())
    return Status(201, _saved(product, warnings))


@router.get(
    "/{product_id}",
    response={200: ProductOut, 401: ErrorOut, 404: ErrorOut},
    summary="Consultar produto",
)
def product_detail(request: HttpRequest, product_id: int):
    return _get(product_id)


@router.patch(
    "/{product_id}",
    response={200: ProductSavedOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Alterar produto",
    description="Só os campos enviados são alterados; `sva_integration_id: null` tira o produto da "
    "integração SVA.",
)
def product_update(request: HttpRequest, product_id: int, payload: ProductUpdateIn):
    product, warnings = services.product_update(
        actor=request.user,
        product=_get(product_id), **payload.dict(exclude_unset=True)
    )
    return _saved(product, warnings)

"""Pages of Sistema > Cadastros > Produtos, and the integration picker (lupa).

VIEW sees the list and a product; CONFIGURE creates and edits. The SVA tab's package
select is filled from the platform's catalogue when the platform answers.
"""

from __future__ import annotations

import abc

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import TemplateView

from agrega.core.errors import ApplicationError, ValidationFailed
from agrega.core.roles import Capability
from agrega.integrations import selectors as integration_selectors
from agrega.integrations import services as integration_services
from agrega.integrations.filtersets import IntegrationFilterSet
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import apply_service_error, keyset_context, lupa_field
from agrega.core.params import parse_id

from . import selectors, services
from .filtersets import ProductFilterSet
from .forms import ProductFilterForm, ProductForm


def _get_product(pk: int):
    product = selectors.product_get(pk)
    if product is None:
        raise Http404("Produto não encontrado.")
    return product


def _integration(raw) -> object | None:
    pk = parse_id(raw)
    return integration_selectors.integration_get(pk) if pk else None


def _catalogue(integration) -> tuple[list | None, str]:
    """The platform's packages, or (None, why) when they cannot be read now."""
    if integration is None:
        return None, ""
    try:
        return integration_services.integration_list_packages(integration=integration), ""
    except ApplicationError as exc:
        return None, exc.message


class ProductListView(CapabilityRequiredMixin, TemplateView):
    template_name = "catalog/list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # the filter bar is ProductFilterSet's, as the API's parameters and the CLI's options
        form = ProductFilterForm(self.request.GET or None)
        filters = form.filter_values if form.is_valid() else {}
        context.update(keyset_context(self.request, ProductFilterSet(filters).queryset()))
        context.update(form=form, filtered=bool(filters), q=filters.get("q", ""))
        return context


class ProductDetailView(CapabilityRequiredMixin, TemplateView):
    template_name = "catalog/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["product"] = _get_product(kwargs["pk"])
        return context


class _ProductFormView(CapabilityRequiredMixin, View, metaclass=abc.ABCMeta):
    capability = Capability.CONFIGURE
    product = None

    def render_form(self, form, *, integration, catalogue_note="", status=200):
        return render(self.request, "catalog/form.html", {
            "form": form,
            "product": self.product,
            "sva_integration": integration,
            "catalogue_note": catalogue_note,
            "active_tab": form.tab_with_errors() or "produto",
        }, status=status)

    def form_for(self, data=None, initial=None):
        raw = (data or {}).get("sva_integration_id") if data is not None else (initial or {}).get("sva_integration_id")
        integration = _integration(raw)
        packages, note = _catalogue(integration)
        form = ProductForm(data, initial=initial, packages=packages)
        return form, integration, note

    @abc.abstractmethod
    def save(self, form):
        """Call the product service with the form's data; return (product, warnings)."""

    def post(self, request, *args, **kwargs):
        form = ProductForm(request.POST)
        if form.is_valid():
            try:
                product, warnings = self.save(form)
            except ApplicationError as exc:
                # Rebuild with the catalogue so the package select comes back as it was.
                form, integration, note = self.form_for(request.POST)
                form.is_valid()
                apply_service_error(form, exc)
                return self.render_form(form, integration=integration, catalogue_note=note, status=422)
            for warning in warnings:
                messages.warning(request, warning)
            messages.success(request, f"Produto “{product.name}” salvo.")
            return redirect("catalog:list")
        form, integration, note = self.form_for(request.POST)
        form.is_valid()
        return self.render_form(form, integration=integration, catalogue_note=note, status=422)


class ProductCreateView(_ProductFormView):
    def get(self, request):
        form, integration, note = self.form_for(initial={})
        return self.render_form(form, integration=integration, catalogue_note=note)

    def save(self, form):
        return services.product_create(actor=self.request.user, **form.service_data())


class ProductEditView(_ProductFormView):
    def get(self, request, pk: int):
        p = self.product = _get_product(pk)
        initial = {
            "name": p.name, "active": p.active, "fiscal_class": p.fiscal_class,
            "price": f"{p.price:.2f}".replace(".", ","),
            "sva_integration_id": p.sva_integration_id, "sva_package_code": p.sva_package_code,
        }
        form, integration, note = self.form_for(initial=initial)
        return self.render_form(form, integration=integration, catalogue_note=note)

    def post(self, request, pk: int):
        self.product = _get_product(pk)
        return super().post(request)

    def save(self, form):
        return services.product_update(product=self.product, actor=self.request.user, **form.service_data())


class PackageFieldView(CapabilityRequiredMixin, View):
    """htmx: the Pacote SVA principal field for the integration just picked."""

    capability = Capability.CONFIGURE

    def get(self, request):
        integration = _integration(request.GET.get("sva_integration_id"))
        packages, note = _catalogue(integration)
        form = ProductForm(initial={"sva_package_code": request.GET.get("sva_package_code", "")},
                           packages=packages)
        return render(request, "catalog/_package_field.html", {
            "form": form, "sva_integration": integration, "catalogue_note": note,
        })


class IntegrationPickerView(CapabilityRequiredMixin, View):
    """The rows of the "lupa" of ID integração SVA (web/_lupa_modal.html): active integrations.

    ``?field=`` is the id of the input that receives the chosen id (its label input is
    ``<field>_label``); ``?q=`` filters by name or prefix.
    """

    def get(self, request):
        field = lupa_field(request, "id_sva_integration_id")
        # the search is the integrations list's (IntegrationFilterSet's ``q``: name or prefix);
        # a search too long finds nothing
        try:
            rows = list(IntegrationFilterSet({"q": request.GET.get("q"), "active": True}).queryset()[:200])
        except ValidationFailed:
            rows = []
        return render(request, "catalog/_integration_picker_rows.html", {"rows": rows, "field": field})

"""Pages of Sistema > Cadastros > Clientes, the live field check and the customer picker.

VIEW sees the list, a customer and the picker; OPERATE creates and edits.
"""

from __future__ import annotations

import copy

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views import View
from django.views.generic import TemplateView

from agrega.contracts import selectors as contract_selectors
from agrega.core.br import InvalidValue, clean_document, clean_email, clean_mobile, format_document, format_mobile
from agrega.core.errors import ApplicationError, ValidationFailed
from agrega.core.roles import Capability
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import apply_service_error, keyset_context, lupa_field, safe_next
from agrega.core.params import parse_id

from . import selectors, services
from .filtersets import CustomerFilterSet
from .forms import LIVE_FIELDS, CustomerFilterForm, CustomerForm, initial_for

PICKER_LIMIT = 20


def _get_customer(pk: int):
    customer = selectors.customer_get(pk)
    if customer is None:
        raise Http404("Cliente não encontrado.")
    return customer


def _present(customer):
    """Formatted document and phone for templates (no extra queries)."""
    customer.document_display = format_document(customer.document)
    customer.mobile_display = format_mobile(customer.mobile_phone)
    return customer


def _contract_url(pk: int) -> str:
    try:
        return reverse("contracts:detail", kwargs={"pk": pk})
    except NoReverseMatch:
        return f"/contratos/{pk}/"


class CustomerListView(CapabilityRequiredMixin, TemplateView):
    template_name = "customers/list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # the filter bar is CustomerFilterSet's, as the API's parameters and the CLI's options;
        # a refused filter (an invalid CPF/CNPJ, an unknown UF) is shown next to its field
        form = CustomerFilterForm(self.request.GET or None)
        filters = form.filter_values if form.is_valid() else {}
        context.update(keyset_context(self.request, CustomerFilterSet(filters).queryset()))
        for row in context["rows"]:
            _present(row)
        context.update(form=form, filtered=bool(filters))
        return context


class CustomerDetailView(CapabilityRequiredMixin, TemplateView):
    template_name = "customers/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = _present(_get_customer(kwargs["pk"]))
        contracts = list(contract_selectors.contract_list(customer_id=customer.pk)[:50])
        for contract in contracts:
            contract.url = _contract_url(contract.pk)
        context.update(customer=customer, contracts=contracts)
        return context


class _CustomerFormView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE
    customer = None

    def render_form(self, form, status=200):
        # ?focus=<field>: a registration problem's "Corrigir" link opens the form on that
        # field; ?next=: where the save returns (the page that showed the problem).
        focus = self.request.GET.get("focus", "")
        if focus in form.fields and not form.errors:
            form.fields[focus].widget.attrs["autofocus"] = True
        next_url = safe_next(self.request, "")
        return render(self.request, "customers/form.html",
                      {"form": form, "customer": self.customer, "live_fields": LIVE_FIELDS,
                       "next_url": next_url}, status=status)

    def post(self, request, *args, **kwargs):
        form = CustomerForm(request.POST, customer_pk=self.customer.pk if self.customer else None)
        if form.is_valid():
            try:
                customer = self.save(form)
            except ApplicationError as exc:
                apply_service_error(form, exc)
            else:
                messages.success(request, f"Cliente “{customer.name}” salvo.")
                next_url = safe_next(request, "")
                return redirect(next_url or reverse("customers:detail", kwargs={"pk": customer.pk}))
        return self.render_form(form, status=422)


class CustomerCreateView(_CustomerFormView):
    def get(self, request):
        return self.render_form(CustomerForm())

    def save(self, form):
        return services.customer_create(actor=self.request.user, **form.service_data())


class CustomerEditView(_CustomerFormView):
    def get(self, request, pk: int):
        self.customer = _get_customer(pk)
        return self.render_form(CustomerForm(initial=initial_for(self.customer), customer_pk=pk))

    def post(self, request, pk: int):
        self.customer = _get_customer(pk)
        return super().post(request)

    def save(self, form):
        return services.customer_update(customer=self.customer, actor=self.request.user, **form.service_data())


_CLEANERS = {"document": clean_document, "email": clean_email, "mobile_phone": clean_mobile}


def _live_check(field: str, value: str, customer_pk: int | None) -> tuple[bool | None, str]:
    """(ok, message) for one field as typed; ok is None when there is nothing to say."""
    value = (value or "").strip()
    if not value:
        if field == "document":
            return False, "Informe o CPF ou o CNPJ."
        if field == "email":
            return None, "Sem e-mail principal, o usuário SVA do cliente não poderá ser criado."
        return None, "Sem telefone celular, o usuário SVA do cliente não poderá ser criado."
    try:
        clean = _CLEANERS[field](value)
    except InvalidValue as exc:
        return False, exc.message
    refused = _platform_refusal(field, clean, customer_pk)
    if refused:
        return False, refused
    if field == "document":
        other = selectors.customer_document_in_use(clean, exclude_pk=customer_pk)
        if other is not None:
            return False, f"CPF/CNPJ já cadastrado (cliente {other.pk} — {other.name})."
        kind = "CPF" if len(clean) == 11 else "CNPJ"
        return True, f"{kind} válido: {format_document(clean)}"
    if field == "mobile_phone":
        return True, f"Celular válido: {format_mobile(clean)}"
    return True, f"E-mail válido: {clean}"


def _platform_refusal(field: str, clean: str, customer_pk: int | None) -> str:
    """What a platform where the customer has an SVA user says of the typed value (the
    check the save makes, sva.selectors.customer_platform_problems), or ""."""
    from agrega.sva.selectors import customer_platform_problems

    customer = selectors.customer_get(customer_pk) if customer_pk is not None else None
    if customer is None:
        return ""
    candidate = copy.copy(customer)
    setattr(candidate, field, clean)
    problems = customer_platform_problems(candidate, {field})
    return problems[0]["message"] if problems else ""


class CustomerFieldCheckView(CapabilityRequiredMixin, View):
    """htmx: checks CPF/CNPJ, e-mail or celular as typed (``?field=<name>&<name>=<value>``),
    with the same rules the service applies on save (``agrega.core.br``)."""

    capability = Capability.OPERATE

    def get(self, request):
        field = request.GET.get("field", "")
        if field not in LIVE_FIELDS:
            raise Http404("Campo desconhecido.")
        raw_pk = request.GET.get("customer", "")
        ok, message = _live_check(field, request.GET.get(field, ""), parse_id(raw_pk))
        return render(request, "customers/_live_check.html", {"ok": ok, "message": message, "field": field})


class CustomerPickerView(CapabilityRequiredMixin, View):
    """The rows of the customer "lupa" (web/_lupa_modal.html): matches for ``?q=`` (name,
    CPF/CNPJ, e-mail). ``?field=`` is the id of the input that receives the chosen id (its
    label input is ``<field>_label``).
    """

    def get(self, request):
        field = lupa_field(request, "id_customer_id")
        # the search is the customers list's (CustomerFilterSet's ``q``); a search too long finds nothing
        try:
            rows = [_present(c) for c in CustomerFilterSet({"q": request.GET.get("q")}).queryset()[:PICKER_LIMIT]]
        except ValidationFailed:
            rows = []
        return render(request, "customers/_picker_rows.html", {"rows": rows, "field": field, "limit": PICKER_LIMIT})


class CustomerPersonalDataView(CapabilityRequiredMixin, View):
    """LGPD export as a JSON download (administrators)."""

    capability = Capability.CONFIGURE

    def get(self, request, pk: int):
        import json

        from django.http import HttpResponse

        from .privacy import customer_personal_data

        try:
            data = customer_personal_data(customer_id=pk)
        except ApplicationError:
            raise Http404 from None
        response = HttpResponse(json.dumps(data, ensure_ascii=False, indent=2),
                                content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="cliente-{pk}-dados-pessoais.json"'
        return response


class CustomerAnonymizeView(CapabilityRequiredMixin, View):
    """LGPD anonymisation: a confirmation page that says what happens, then the action."""

    capability = Capability.CONFIGURE

    def get(self, request, pk: int, error: str = ""):
        return render(request, "customers/anonymize.html", {"customer": _get_customer(pk), "error": error},
                      status=409 if error else 200)

    def post(self, request, pk: int):
        from .privacy import customer_anonymize

        try:
            customer_anonymize(customer_id=pk, actor=request.user, reason=request.POST.get("reason", ""))
        except ApplicationError as exc:
            return self.get(request, pk, error=exc.message)
        messages.success(request, "Cliente anonimizado. Contratos e títulos foram mantidos.")
        return redirect("customers:detail", pk=pk)

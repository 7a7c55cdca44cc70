"""Consent pages: record the customer's acceptance of an SVA product of a contract (from
its SVA tab), revoke it, and the report of SVA charges without consent (Relatórios),
with its CSV. Views read through selectors and write through services."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from agrega.catalog.models import Product
from agrega.contracts.choices import ProductKind
from agrega.contracts.selectors import contract_get
from agrega.core import csvio
from agrega.core.formats import format_decimal, format_document
from agrega.core.errors import ApplicationError
from agrega.core.roles import Capability
from agrega.integrations.selectors import integration_list
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import apply_service_error, keyset_context
from agrega.core.params import parse_id

from . import selectors, services
from .api import without_consent_row
from .filtersets import WithoutConsentFilterSet
from .forms import ConsentForm, ReportFilterForm, RevokeForm

FIELD_MAP = {"product_id": "product", "consented_at": "consented_at", "channel": "channel",
             "evidence_ref": "evidence_ref"}


def contract_sva_url(contract_id: int) -> str:
    return reverse("contracts:detail", args=[contract_id]) + "#sva"


class ConsentCreateView(CapabilityRequiredMixin, View):
    """Registrar consentimento: one of the contract's SVA products (``?produto=`` preselects)."""

    capability = Capability.OPERATE
    template_name = "consent/create.html"

    def _setup(self, contract_pk):
        contract = contract_get(contract_pk)
        if contract is None:
            raise Http404("Contrato não encontrado.")
        ids = [p.product_id for p in contract.products.all() if p.removed_at is None and p.kind == ProductKind.SVA]
        products = list(Product.objects.filter(pk__in=ids).select_related("sva_integration").order_by("id"))
        return contract, products

    def _render(self, contract, products, form, status=200):
        return render(self.request, self.template_name,
                      {"contract": contract, "products": products, "form": form}, status=status)

    def get(self, request, contract_pk):
        contract, products = self._setup(contract_pk)
        initial = {"consented_at": timezone.localtime().replace(second=0, microsecond=0)}
        wanted = request.GET.get("produto", "")
        wanted = parse_id(wanted)
        if wanted and any(p.pk == wanted for p in products):
            initial["product"] = wanted
        return self._render(contract, products, ConsentForm(initial=initial, products=products))

    def post(self, request, contract_pk):
        contract, products = self._setup(contract_pk)
        form = ConsentForm(request.POST, products=products)
        if form.is_valid():
            data = form.cleaned_data
            try:
                record = services.consent_record(
                    contract_id=contract.pk, product_id=data["product"], channel=data["channel"],
                    evidence_ref=data["evidence_ref"], consented_at=data["consented_at"], actor=request.user,
                )
            except ApplicationError as exc:
                apply_service_error(form, exc, FIELD_MAP)
            else:
                messages.success(
                    request,
                    f"Consentimento registrado para {record.product.name}. Usuários SVA que aguardavam o "
                    "consentimento serão criados na próxima sincronização.",
                )
                return HttpResponseRedirect(contract_sva_url(contract.pk))
        return self._render(contract, products, form, status=422)


class ConsentRevokeView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE
    template_name = "consent/revoke.html"

    def _record(self, pk):
        record = selectors.consent_get(pk)
        if record is None:
            raise Http404("Consentimento não encontrado.")
        return record

    def get(self, request, pk):
        record = self._record(pk)
        if record.revoked_at is not None:
            messages.info(request, "Este consentimento já foi revogado.")
            return HttpResponseRedirect(contract_sva_url(record.contract_id))
        return render(request, self.template_name, {"record": record, "contract": record.contract,
                                                    "form": RevokeForm()})

    def post(self, request, pk):
        record = self._record(pk)
        form = RevokeForm(request.POST)
        reason = form.cleaned_data["reason"] if form.is_valid() else ""
        try:
            services.consent_revoke(consent_id=record.pk, reason=reason, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"Consentimento de {record.product.name} revogado. O usuário SVA que já existe não é removido; "
                "a cobrança aparece no relatório de SVA sem consentimento.",
            )
        return HttpResponseRedirect(contract_sva_url(record.contract_id))


CSV_HEADERS = ("Contrato", "Cliente", "CPF/CNPJ", "Produto", "Pacote SVA", "Integração", "Exige consentimento",
               "Valor (R$)", "Sem consentimento desde", "Consentimento revogado em")


def _csv_value(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "tzinfo"):
        return timezone.localtime(value).strftime("%d/%m/%Y %H:%M")
    return str(value)  # a cell that starts like a formula: core.csvio's writer neutralises it


class WithoutConsentReportView(CapabilityRequiredMixin, TemplateView):
    """Relatórios > SVA sem consentimento; ``?formato=csv`` downloads every row."""

    template_name = "consent/report.html"

    def _filters(self):
        # the filter is WithoutConsentFilterSet's, as the API's and the CLI's; a refused
        # value is said next to the field and the whole report is shown
        form = ReportFilterForm(self.request.GET or None, integrations=list(integration_list()))
        filters = form.filter_values if form.is_valid() else {}
        return form, WithoutConsentFilterSet(filters).queryset()

    def get(self, request, *args, **kwargs):
        if request.GET.get("formato") == "csv":
            return self._csv()
        return super().get(request, *args, **kwargs)

    def _csv(self):
        _, qs = self._filters()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="sva-sem-consentimento-{stamp}.csv"'
        response.write("\ufeff")  # spreadsheets open UTF-8 correctly with the BOM
        writer = csvio.writer(response)
        writer.writerow(CSV_HEADERS)
        for item in qs.iterator(chunk_size=2000):
            row = without_consent_row(item)
            writer.writerow([
                row["contract_id"], _csv_value(row["customer_name"]), format_document(row["customer_document"]),
                _csv_value(row["product_name"]), row["sva_package_code"], _csv_value(row["integration_name"]),
                "sim" if row["requires_consent"] else "não", format_decimal(row["price"]),
                _csv_value(row["since"]), _csv_value(row["last_revoked_at"]),
            ])
        return response

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form, qs = self._filters()
        ctx.update(keyset_context(self.request, qs))
        ctx["rows"] = [without_consent_row(i) for i in ctx["rows"]]
        params = self.request.GET.copy()
        params.pop("cursor", None)
        params["formato"] = "csv"
        ctx.update(form=form, csv_url="?" + params.urlencode())
        return ctx

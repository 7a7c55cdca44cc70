"""Pages: Configurações > Fiscal (emitter, A1 certificate; administrators), Financeiro >
NFCom (list, downloads, ZIP, reports) and the NFCom section of the título page."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from agrega.billing.services import parse_period
from agrega.core.errors import ApplicationError
from agrega.core.roles import Capability
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import BootstrapFormMixin

from . import reports, selectors, services
from .certificates import expiry_warning
from .filtersets import NFComFilterSet
from .models import Crt, Environment, TaxRule

FIELDS = ("cnpj", "ie", "razao_social", "nome_fantasia", "street", "number", "complement", "district", "city",
          "ibge_code", "uf", "zip_code", "phone", "email", "crt", "environment", "serie", "next_number", "sefaz_url")


class EmitterForm(forms.Form):
    cnpj = forms.CharField(label="CNPJ", max_length=18)
    ie = forms.CharField(label="Inscrição estadual", max_length=20)
    razao_social = forms.CharField(label="Razão social", max_length=60)
    nome_fantasia = forms.CharField(label="Nome fantasia", max_length=60, required=False)
    street = forms.CharField(label="Logradouro", max_length=60)
    number = forms.CharField(label="Número", max_length=60)
    complement = forms.CharField(label="Complemento", max_length=60, required=False)
    district = forms.CharField(label="Bairro", max_length=60)
    city = forms.CharField(label="Município", max_length=60)
    ibge_code = forms.CharField(label="Código IBGE do município", max_length=7)
    uf = forms.CharField(label="UF", max_length=2)
    zip_code = forms.CharField(label="CEP", max_length=9)
    phone = forms.CharField(label="Telefone", max_length=15, required=False)
    email = forms.CharField(label="E-mail", max_length=60, required=False)
    crt = forms.TypedChoiceField(label="Regime tributário (CRT)", choices=Crt.choices, coerce=int)
    environment = forms.TypedChoiceField(label="Ambiente", choices=Environment.choices, coerce=int)
    serie = forms.IntegerField(label="Série", min_value=0, max_value=999)
    next_number = forms.IntegerField(label="Próximo número", min_value=1, required=False,
                                     help_text="Só pode mudar enquanto a série não tem NFCom.")
    sefaz_url = forms.CharField(label="URL do autorizador (vazio: SVRS)", max_length=300, required=False)


class CertificateForm(forms.Form):
    file = forms.FileField(label="Certificado A1 (.pfx/.p12)")
    password = forms.CharField(label="Senha do certificado", widget=forms.PasswordInput, max_length=200)


class FiscalSettingsView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE
    template_name = "fiscal/settings.html"

    def _context(self, form=None, cert_form=None):
        emitter = services.emitter_get()
        series = None
        if emitter:
            from .models import Series

            series = Series.objects.filter(environment=emitter.environment, serie=emitter.serie).first()
        initial = {f: getattr(emitter, f, "") for f in FIELDS if emitter and hasattr(emitter, f)}
        if series:
            initial["next_number"] = series.next_number
        return {"emitter": emitter, "form": form or EmitterForm(initial=initial or None),
                "cert_form": cert_form or CertificateForm(),
                "warning": expiry_warning(emitter.certificate_not_after) if emitter else "",
                "rules": TaxRule.objects.exclude(kind="ICMS").order_by("kind", "valid_from"),
                "icms_rules": TaxRule.objects.filter(kind="ICMS", valid_from__year__lt=2029).order_by("uf")}

    def get(self, request):
        return render(request, self.template_name, self._context())

    def post(self, request):
        if "certificate" in request.POST:
            cert_form = CertificateForm(request.POST, request.FILES)
            if cert_form.is_valid():
                try:
                    services.certificate_upload(pkcs12=cert_form.cleaned_data["file"].read(64 * 1024 + 1),
                                                password=cert_form.cleaned_data["password"], actor=request.user)
                    messages.success(request, "Certificado A1 guardado (cifrado).")
                    return redirect("fiscal:settings")
                except ApplicationError as exc:
                    cert_form.add_error(None, exc.message)
            return render(request, self.template_name, self._context(cert_form=cert_form), status=422)
        form = EmitterForm(request.POST)
        if form.is_valid():
            try:
                services.emitter_save(actor=request.user, **form.cleaned_data)
                messages.success(request, "Emitente salvo.")
                return redirect("fiscal:settings")
            except ApplicationError as exc:
                for name, errors in exc.fields.items():
                    for e in errors:
                        form.add_error(name if name in form.fields else None, e.message)
                if not exc.fields:
                    form.add_error(None, exc.message)
        return render(request, self.template_name, self._context(form=form), status=422)


class NFComFilterForm(BootstrapFormMixin, NFComFilterSet.form_class()):
    """The NFCom list's filter bar: the fields of ``NFComFilterSet`` (one declaration for
    the page, the API and the CLI)."""


class NFComListView(CapabilityRequiredMixin, View):
    def get(self, request):
        # the filter bar is NFComFilterSet's, as the API's parameters and the CLI's options;
        # a refused value (a month that does not parse) is said next to its field
        form = NFComFilterForm(request.GET or None)
        filters = form.filter_values if form.is_valid() else {}
        docs = list(NFComFilterSet(filters).queryset()[:200])
        period = filters.get("period")
        return render(request, "fiscal/list.html", {"docs": docs, "form": form, "filtered": bool(filters),
                                                    "period": f"{period:%Y-%m}" if period else ""})


def _doc_or_404(invoice_id):
    doc = selectors.for_invoice(invoice_id)
    if doc is None:
        raise Http404("NFCom não encontrada.")
    return doc


class NFComFileView(CapabilityRequiredMixin, View):
    kind = "xml"

    def get(self, request, invoice_id: int):
        doc = _doc_or_404(invoice_id)
        if self.kind == "xml":
            response = HttpResponse(selectors.document_xml(doc), content_type="application/xml")
            response["Content-Disposition"] = f'attachment; filename="{doc.key}-nfcom.xml"'
        else:
            response = HttpResponse(selectors.document_pdf(doc), content_type="application/pdf")
            response["Content-Disposition"] = f'inline; filename="{doc.key}-danfe.pdf"'
        return response


class NFComActionView(CapabilityRequiredMixin, View):
    """POST: emit (a título without NFCom), correct+re-send, send, cancel (justificativa),
    substitute (motSub) + send."""

    capability = Capability.OPERATE

    def post(self, request, invoice_id: int, action: str):
        try:
            if action == "emit":
                doc = services.nfcom_create(invoice_id=invoice_id)
                doc = services.nfcom_send(nfcom_id=doc.pk)
            elif action == "correct":
                doc = services.nfcom_correct(nfcom_id=_doc_or_404(invoice_id).pk, actor=request.user)
                doc = services.nfcom_send(nfcom_id=doc.pk)
            elif action == "send":
                doc = services.nfcom_send(nfcom_id=_doc_or_404(invoice_id).pk)
            elif action == "cancel":
                doc = services.nfcom_cancel(nfcom_id=_doc_or_404(invoice_id).pk,
                                            reason=request.POST.get("reason", ""), actor=request.user)
            elif action == "substitute":
                doc = services.nfcom_substitute(nfcom_id=_doc_or_404(invoice_id).pk,
                                                reason=request.POST.get("reason", ""), actor=request.user)
                doc = services.nfcom_send(nfcom_id=doc.pk)
            else:
                raise Http404
            messages.success(request, f"NFCom {doc.serie}/{doc.number}: {doc.get_status_display()}. "
                             f"{services.describe(doc)}")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        except Exception as exc:  # SEFAZ unreachable etc.: the document waits, the operator is told
            messages.error(request, f"Não foi possível falar com a SEFAZ agora: {exc}")
        return redirect("billing:invoice_detail", invoice_id)


class ZipView(CapabilityRequiredMixin, View):
    def get(self, request):
        try:
            period = parse_period(request.GET.get("period", ""))
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("fiscal:list")
        data, _ = selectors.monthly_zip(period)
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="nfcom-{period:%Y-%m}.zip"'
        return response


class ReportsView(CapabilityRequiredMixin, View):
    def get(self, request):
        text = request.GET.get("period") or timezone.localdate().strftime("%Y-%m")
        try:
            period = parse_period(text)
        except ApplicationError:
            period = timezone.localdate().replace(day=1)
        emitter = services.emitter_get()
        t = reports.transition(period, uf=emitter.uf if emitter else "SP")
        return render(request, "fiscal/reports.html", {"period": f"{period:%Y-%m}", "t": t, "kinds": reports.KINDS})


class ProductFiscalView(CapabilityRequiredMixin, View):
    """Configurações > Fiscal > Produtos: each product's class, cClass, CFOP and ICMS
    situation (administrators)."""

    capability = Capability.CONFIGURE

    def _render(self, request, status=200, errors=None):
        from agrega.catalog.models import Product

        from . import cclass
        from .models import IcmsCst, ProductFiscal, ServiceKind

        fiscal = {f.product_id: f for f in ProductFiscal.objects.all()}
        rows = [(p, fiscal.get(p.pk)) for p in Product.objects.order_by("name")]
        return render(request, "fiscal/products.html", {
            "rows": rows, "kinds": ServiceKind.choices, "csts": IcmsCst.choices,
            "cclasses": sorted(cclass.table().items()), "errors": errors or {}}, status=status)

    def get(self, request):
        return self._render(request)

    def post(self, request):
        try:
            product_id = int(request.POST.get("product_id", ""))
        except ValueError:
            raise Http404 from None
        try:
            services.product_fiscal_save(product_id=product_id, kind=request.POST.get("kind", ""),
                                         cclass_code=request.POST.get("cclass", ""),
                                         cfop=request.POST.get("cfop", ""), icms_cst=request.POST.get("icms_cst", ""),
                                         ibscbs_cst=request.POST.get("ibscbs_cst", "000") or "000",
                                         cclass_trib=request.POST.get("cclass_trib", "000001") or "000001",
                                         actor=request.user)
        except ApplicationError as exc:
            messages_list = [e.message for errs in exc.fields.values() for e in errs] or [exc.message]
            return self._render(request, status=422, errors={product_id: messages_list})
        messages.success(request, "Dados fiscais do produto salvos.")
        return redirect("fiscal:products")

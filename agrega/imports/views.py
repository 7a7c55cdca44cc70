"""Sistema > Importação: send a CSV, map its columns, see the dry run, import with a
progress bar (htmx polling), pause and resume, download each line's outcome.

The dry run and the import run as background tasks (``imports/tasks.py``, run by
``agrega worker``; docs/imports.md); an import whose process died is resumed by its task
run again, by "Retomar" or by the periodic job (``services.run_due_imports``)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from agrega.core import csvio
from agrega.core.errors import ApplicationError, FieldErrors
from agrega.core.roles import Capability
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import keyset_context

from agrega.core.tasks import actor_id

from . import selectors, services, tasks
from .filtersets import ImportJobFilterSet, ImportRowFilterSet
from .forms import ImportFilterForm, MappingForm, UploadForm
from .layout import COLUMNS
from .models import ImportStatus, RowStatus

ACTIVE = (ImportStatus.VALIDATING, ImportStatus.RUNNING)
REPORT_SHOWN = 500
LIST_SIZE = 100


def _job_or_404(pk: int):
    job = selectors.import_job_get(pk)
    if job is None:
        raise Http404("Importação não encontrada.")
    return job


class ImportListView(CapabilityRequiredMixin, TemplateView):
    template_name = "imports/list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # the filter bar is ImportJobFilterSet's, as the API's parameter and the CLI's option
        form = ImportFilterForm(self.request.GET or None)
        filters = form.filter_values if form.is_valid() else {}
        ctx.update(form=form, rows=list(ImportJobFilterSet(filters).queryset()[:LIST_SIZE]), filtered=bool(filters))
        return ctx


class ImportUploadView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE
    template_name = "imports/upload.html"

    def get(self, request):
        return render(request, self.template_name, {"form": UploadForm(), "columns": COLUMNS})

    def post(self, request):
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = services.import_job_create(file_name=upload.name, content=upload.read(), actor=request.user)
            except ApplicationError as exc:
                form.add_error("file", exc.message)
            else:
                messages.success(request, f"Arquivo recebido: {job.total_lines} linhas. Confira o mapeamento das colunas.")
                return HttpResponseRedirect(reverse("imports:detail", args=[job.pk]))
        return render(request, self.template_name, {"form": form, "columns": COLUMNS})


class ImportTemplateView(CapabilityRequiredMixin, View):
    """A CSV with our headers and one example line (the layout of docs/imports.md)."""

    def get(self, request):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="modelo-clientes-contratos.csv"'
        writer = csvio.writer(response)
        writer.writerow([c.name for c in COLUMNS])
        writer.writerow(["12345", "Maria da Silva", "529.982.247-25", "maria@example.com.br", "(11) 98765-4321",
                         "Rua das Flores", "100", "Centro", "São Paulo", "SP", "01310-100", "10",
                         "Fibra 500", "", "A", "1|SEG-BASICO=9,90"])
        return response


def detail_context(request, job, mapping_form=None) -> dict:
    ctx = {"job": job, "active": job.status in ACTIVE, "earlier": services.previous_import_of(job)}
    if job.status == ImportStatus.UPLOADED:
        ctx["mapping_form"] = mapping_form or MappingForm(job=job)
    if job.status == ImportStatus.VALIDATED:
        lines = selectors.report_lines(job)
        ctx["report"] = job.report
        ctx["report_lines"] = lines[:REPORT_SHOWN]
        ctx["report_more"] = max(0, len(lines) - REPORT_SHOWN)
    if job.status in (ImportStatus.DONE, ImportStatus.PAUSED, ImportStatus.FAILED, ImportStatus.RUNNING):
        # the filter is ImportRowFilterSet's, as in the API and the CLI; a refused value is
        # said in Portuguese and the lines with messages are shown
        rows = ImportRowFilterSet({"status": request.GET.get("status")}, job_id=job.pk, problems_only=True,
                                  strict=False)
        errors = FieldErrors()
        filters = rows.clean_into(errors)
        ctx.update(keyset_context(request, rows.apply(rows.base(), filters), limit=100),
                   row_status=filters.get("status", ""), row_statuses=RowStatus.choices, show_rows=True,
                   row_filter_errors=[e.message for errs in errors.errors.values() for e in errs])
    return ctx


class ImportDetailView(CapabilityRequiredMixin, View):
    template_name = "imports/detail.html"

    def get(self, request, pk):
        return render(request, self.template_name, detail_context(request, _job_or_404(pk)))


class ImportProgressView(CapabilityRequiredMixin, View):
    """The progress bar (polled by htmx every second). When the job leaves the running
    states the page reloads itself to show the results."""

    def get(self, request, pk):
        job = selectors.import_job_progress(pk)
        if job is None:
            raise Http404
        if job.status not in ACTIVE:
            response = HttpResponse("")
            response["HX-Refresh"] = "true"
            return response
        return render(request, "imports/_progress.html", {"job": job, "active": True})


class _ActionView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE

    def act(self, request, job):  # pragma: no cover - abstract
        raise NotImplementedError

    def post(self, request, pk):
        job = _job_or_404(pk)
        try:
            response = self.act(request, job)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            if response is not None:
                return response
        return HttpResponseRedirect(reverse("imports:detail", args=[job.pk]))


class ImportMappingView(_ActionView):
    """Saves the mapping and starts the dry run."""

    def act(self, request, job):
        form = MappingForm(request.POST, job=job)
        if form.is_valid():
            try:
                services.import_job_set_mapping(job=job, mapping=form.mapping(), actor=request.user)
                services.import_job_request_validation(job=job, actor=request.user)
            except ApplicationError as exc:
                form.apply_error(exc)
        if form.errors:
            job.refresh_from_db()
            return render(request, "imports/detail.html", detail_context(request, job, form), status=422)
        tasks.validate_import.enqueue(job_id=job.pk)
        messages.info(request, "Simulação iniciada: nenhuma linha é gravada.")
        return None


class ImportRemapView(_ActionView):
    def act(self, request, job):
        services.import_job_set_mapping(job=job, mapping=job.mapping, actor=request.user)


class ImportStartView(_ActionView):
    def act(self, request, job):
        services.import_job_start(job=job, actor=request.user)
        tasks.run_import.enqueue(job_id=job.pk, actor_id=actor_id(request.user))
        messages.info(request, "Importação iniciada.")


class ImportPauseView(_ActionView):
    def act(self, request, job):
        services.import_job_pause(job=job, actor=request.user)
        messages.info(request, "Pausa pedida: o lote em andamento termina e a importação para.")


class ImportRowsCsvView(CapabilityRequiredMixin, View):
    """Every line's outcome (importada / rejeitada / já importada) with its messages."""

    def get(self, request, pk):
        job = _job_or_404(pk)

        writer = csvio.line_writer()
        labels = dict(RowStatus.choices)

        def rows():
            yield "\ufeff" + writer.writerow(["linha", "contrato_ref", "situacao", "cliente_id", "contrato_id",
                                              "mensagens"])
            for row in selectors.import_row_list(job_id=job.pk).iterator(chunk_size=2000):
                yield writer.writerow([row.line, row.ref, labels.get(row.status, row.status), row.customer_id or "",
                                       row.contract_id or "", " | ".join(m["message"] for m in row.messages)])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="importacao-{job.pk}-linhas.csv"'
        return response

"""Importação de clientes e contratos: the dry run reports every line's problems and
writes nothing; the import applies good lines once, rejects bad ones without a trace,
and a re-import of the same file changes nothing."""

from __future__ import annotations

import pytest
from django.dispatch import receiver

from agrega.contracts.models import Contract, ContractEvent, ContractProduct
from agrega.contracts.signals import contract_activated
from agrega.core.errors import ApplicationError
from agrega.core.models import ChangeRecord
from agrega.customers.models import Customer
from agrega.imports import services
from agrega.core.csvio import read_table
from agrega.imports.layout import guess_mapping
from agrega.imports.models import ExternalRef, ImportJob, ImportRow
from agrega.plans.services import plan_create
from agrega.sva.models import SvaUser

from .helpers import csv_bytes, make_cnpj, row, table_counts

from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


def dry_run(content: bytes, mapping=None) -> dict:
    table = read_table(content)
    return services.validate_file(table=table, mapping=mapping or guess_mapping(table.headers))


def run(content: bytes, *, batch_size: int = 500, actor=None, mapping=None) -> ImportJob:
    job = services.import_job_create(file_name="clientes.csv", content=content, mapping=mapping, actor=actor)
    return services.import_job_run(job_id=job.pk, batch_size=batch_size)


def codes(report_or_rows, line: int) -> set[str]:
    entry = next(e for e in report_or_rows if e["line"] == line)
    return {m["code"] for m in entry["messages"]}


@pytest.fixture
def products(make_product):
    internet = make_product(name="Fibra 500 Mega", price="99.90", fiscal_class="SCM")
    inactive = make_product(name="Plano Antigo", price="50.00", fiscal_class="SCM", active=False)
    return {"internet": internet, "inactive": inactive}


def bad_file(products) -> bytes:
    internet = products["internet"].pk
    return csv_bytes([
        row(1, produtos=f"{internet}=89,90"),                      # line 2: good
        row(2, cpf_cnpj="123.456.789-00"),                           # line 3: CPF check digits
        row(3, email="maria@@example"),                              # line 4: e-mail
        row(4, celular="(11) 3456-7890"),                            # line 5: landline, not a celular
        row(5, produtos="Produto Que Não Existe"),                   # line 6: unknown product
        row(6, plano="Plano Fantasma"),                              # line 7: unknown plan
        row(7, dia_vencimento="32"),                                 # line 8: billing day
        row(8, contrato_ref="CT-000001"),                            # line 9: repeated reference
        row(9, produtos=f"{products['inactive'].pk}"),               # line 10: inactive product
        row(10, uf="XX", cep="123"),                                 # line 11: UF and CEP
        row(11, status="Z", nome=""),                                # line 12: status and name
        row(12, cpf_cnpj=make_cnpj(7), produtos=f"{internet}=abc"),  # line 13: price
        row(13, cpf_cnpj=""),                                        # line 14: document missing
    ])


def test_dry_run_reports_every_problem_of_every_line_and_writes_nothing(products, django_user_model):
    before = table_counts()
    report = dry_run(bad_file(products))
    assert table_counts() == before  # not a customer, not a job: nothing
    lines = report["lines"]
    assert report["total"] == 13 and report["applied"] == 1 and report["rejected"] == 12
    assert codes(lines, 3) == {"cpf_invalid"}
    assert codes(lines, 4) == {"email_invalid"}
    assert codes(lines, 5) == {"mobile_not_mobile"}
    assert codes(lines, 6) == {"product_unknown"}
    assert codes(lines, 7) == {"plan_unknown"}
    assert codes(lines, 8) == {"billing_day_invalid"}
    assert codes(lines, 9) == {"ref_repeated"}
    assert codes(lines, 10) == {"product_inactive"}
    assert codes(lines, 11) == {"state_invalid", "zip_code_invalid"}
    assert codes(lines, 12) == {"status_invalid", "name_required"}
    assert codes(lines, 13) == {"amount_invalid"}
    assert codes(lines, 14) == {"document_required"}
    assert 2 not in {e["line"] for e in lines}  # the good line has nothing to say
    message = next(e for e in lines if e["line"] == 3)["messages"][0]["message"]
    assert message == "CPF inválido: os dígitos verificadores não conferem."


def test_import_applies_good_lines_and_a_bad_line_changes_nothing(products):
    job = run(bad_file(products))
    assert job.status == "done" and job.applied == 1 and job.rejected == 12 and job.next_index == 13
    assert Customer.objects.count() == 1 and Contract.objects.count() == 1
    customer = Customer.objects.get()
    assert customer.name == "Cliente Importado 1" and customer.mobile_phone.startswith("+55119")
    contract = Contract.objects.get()
    item = ContractProduct.objects.get(contract=contract)
    assert item.product_id == products["internet"].pk and str(item.price) == "89.90" and item.kind == "OUTRO"
    assert ExternalRef.objects.get(ref="CT-000001").object_id == contract.pk
    # the same checks on the stored rows as in the dry run
    rows = [{"line": r.line, "messages": r.messages} for r in ImportRow.objects.filter(job=job)]
    assert codes(rows, 3) == {"cpf_invalid"} and codes(rows, 14) == {"document_required"}
    assert ImportRow.objects.get(job=job, line=2).contract_id == contract.pk
    # audit: the customer's creation and the contract's Histórico name the importer
    assert ChangeRecord.objects.filter(object_type="customers.customer", object_id=str(customer.pk),
                                       action="create").exists()
    actions = sorted(ContractEvent.objects.filter(contract=contract).values_list("action", flat=True))
    assert actions == ["add_product", "create"]


def test_reimport_of_the_same_file_applies_nothing_twice(products, make_customer):
    content = csv_bytes([row(n, produtos=str(products["internet"].pk)) for n in range(1, 31)])
    first = run(content, batch_size=7)
    assert first.applied == 30
    counts = table_counts(exclude_apps=("imports",))
    second = run(content, batch_size=7)
    assert second.applied == 0 and second.skipped_duplicate == 30 and second.rejected == 0
    assert table_counts(exclude_apps=("imports",)) == counts
    assert services.previous_import_of(second).pk == first.pk
    # and a file that repeats some references and brings new ones applies only the new
    more = csv_bytes([row(n, produtos=str(products["internet"].pk)) for n in range(25, 41)])
    third = run(more)
    assert (third.applied, third.skipped_duplicate) == (10, 6)
    assert Contract.objects.count() == 40 and ExternalRef.objects.count() == 40
    dup = ImportRow.objects.get(job=third, ref="CT-000025")
    assert dup.status == "skipped_duplicate" and dup.contract_id == ExternalRef.objects.get(ref="CT-000025").object_id


def test_lines_of_one_document_share_a_customer_and_existing_customers_are_reused(products, make_customer):
    existing = make_customer(name="Já Cadastrada", email="ja@example.com.br")
    shared = row(1)["cpf_cnpj"]
    content = csv_bytes([
        row(1), row(2, cpf_cnpj=shared, nome="Cliente Importado 1"), row(3, cpf_cnpj=shared, email="outro@example.com.br"),
        row(4, cpf_cnpj=existing.document, nome="Outro Nome"),
    ])
    report = dry_run(content)
    assert report["customers_new"] == 1 and report["customers_existing"] == 1 and report["applied"] == 4
    assert codes(report["lines"], 5) == {"customer_exists_differs", "no_products"}
    differs = next(m for e in report["lines"] if e["line"] == 5 for m in e["messages"]
                   if m["code"] == "customer_exists_differs")
    assert differs["level"] == "warning" and f"ID {existing.pk}" in differs["message"] and "nome" in differs["message"]
    job = run(content, batch_size=2)
    assert job.applied == 4 and job.customers_created == 1
    assert Customer.objects.count() == 2
    assert Contract.objects.filter(customer__document=shared).count() == 3
    existing.refresh_from_db()
    assert existing.name == "Já Cadastrada" and Contract.objects.filter(customer=existing).count() == 1


def test_encodings_separators_and_mapping(products):
    latin = csv_bytes([row(1, nome="João Conceição", cidade="São José")], delimiter=",", encoding="cp1252")
    job = run(latin)
    assert (job.encoding, job.delimiter, job.applied) == ("cp1252", ",", 1)
    assert Customer.objects.get().name == "João Conceição" and Customer.objects.get().city == "São José"

    bom = csv_bytes([row(2, nome="Ângela")], bom=True)
    job = run(bom)
    assert job.encoding == "utf-8-sig" and job.applied == 1 and job.mapping["contrato_ref"] == "contrato_ref"

    # the ISP's own headers, recognised by name, or mapped explicitly
    header = ["Contrato", "Razão Social", "CPF", "E-mail", "Telefone Celular", "Município", "Estado",
              "Vencimento", "Situação", "Serviços", "Plano"]
    theirs = [{h: r[k] for h, k in zip(header, row(0).keys())} for r in [row(3), row(4)]]
    content = csv_bytes(theirs, header=header)
    assert guess_mapping(read_table(content).headers)["cpf_cnpj"] == "CPF"
    assert run(content).applied == 2
    odd = ["numero", "quem", "doc"]
    content = csv_bytes([{"numero": "X-1", "quem": "Fulana", "doc": row(5)["cpf_cnpj"]}], header=odd)
    with pytest.raises(ApplicationError) as exc:
        services.import_job_create(file_name="x.csv", content=content, mapping={"contrato_ref": "numero"})
    assert exc.value.code == "mapping_invalid" and set(exc.value.fields) == {"nome", "cpf_cnpj"}
    job = run(content, mapping={"contrato_ref": "numero", "nome": "quem", "cpf_cnpj": "doc"})
    assert job.applied == 1 and ExternalRef.objects.filter(ref="X-1").exists()


def test_sales_plan_products_and_activation_follow_the_sva_flow(platform_integration, make_product, platform_account,
                                                                converge):
    internet = make_product(name="Fibra 300", price="89.90", fiscal_class="SCM")
    sva = make_product(platform_integration, name="EXA Segurança")
    plan = plan_create(name="Combo Fibra + EXA", items=[{"product_id": internet.pk, "price": "79.90"},
                                                         {"product_id": sva.pk}])
    content = csv_bytes([
        row(1, plano="Combo Fibra + EXA", status="A"),
        row(2, plano=str(plan.pk), status="P"),
        row(3, plano=plan.name, status="A", celular=""),  # imported; the SVA user waits for the data
    ])
    report = dry_run(content)
    assert report["activations"] == 2 and codes(report["lines"], 4) == {"registration_incomplete"}
    job = run(content)
    assert job.applied == 3 and job.warnings == 1
    active = Contract.objects.get(pk=ExternalRef.objects.get(ref="CT-000001").object_id)
    assert active.status == "A" and active.access_status == "A" and active.sales_plan_id == plan.pk
    assert sorted((i.product_id, str(i.price)) for i in active.products.all()) == sorted(
        [(internet.pk, "79.90"), (sva.pk, "None")])
    pre = Contract.objects.get(pk=ExternalRef.objects.get(ref="CT-000002").object_id)
    assert pre.status == "P" and not SvaUser.objects.filter(contract=pre).exists()
    waiting = SvaUser.objects.get(contract__pk=ExternalRef.objects.get(ref="CT-000003").object_id)
    assert waiting.registration_problems
    converge(allow_errors=True)
    users = {u["external_id"]: u for u in platform_account.users()}
    created = SvaUser.objects.get(contract=active)
    assert users[created.external_id]["status"] == "active"
    assert users[created.external_id]["email"] == "imp1@example.com.br"
    assert waiting.external_id not in users


def test_a_line_refused_while_writing_is_rejected_alone_and_the_batch_goes_on(products):
    """A listener may refuse an activation (contracts/signals.py): the batch falls back
    to one transaction per line, and only the refused line leaves nothing behind."""

    @receiver(contract_activated, dispatch_uid="test-refuse-activation")
    def refuse(sender, contract, **kwargs):
        if contract.customer.name.startswith("RECUSAR"):
            raise ApplicationError("activation_refused", "Ativação recusada pelo teste.")

    try:
        content = csv_bytes([row(n, status="A", nome=("RECUSAR " if n == 4 else "") + f"Cliente {n}",
                                 produtos=str(products["internet"].pk)) for n in range(1, 9)])
        job = run(content, batch_size=5)
    finally:
        contract_activated.disconnect(dispatch_uid="test-refuse-activation")
    assert job.status == "done" and job.applied == 7 and job.rejected == 1
    refused = ImportRow.objects.get(job=job, ref="CT-000004")
    assert refused.status == "rejected" and refused.messages[-1]["code"] == "activation_refused"
    assert not Customer.objects.filter(name__startswith="RECUSAR").exists()
    assert not ExternalRef.objects.filter(ref="CT-000004").exists()
    assert Contract.objects.filter(status="A").count() == 7
    # fixing the line and importing the file again applies just that line
    fixed = csv_bytes([row(n, status="A", produtos=str(products["internet"].pk), nome=f"Cliente {n}")
                       for n in range(1, 9)])
    again = run(fixed)
    assert (again.applied, again.skipped_duplicate) == (1, 7) and Contract.objects.count() == 8


def test_pause_then_resume_continues_where_it_stopped(products):
    content = csv_bytes([row(n) for n in range(1, 51)])
    job = services.import_job_create(file_name="c.csv", content=content)
    seen = []

    def pause_after_two_batches(current):
        seen.append(current.next_index)
        if len(seen) == 2:
            services.import_job_pause(job=current)

    paused = services.import_job_run(job_id=job.pk, batch_size=10, progress=pause_after_two_batches)
    assert paused.status == "paused" and paused.next_index == 20 and Contract.objects.count() == 20
    with pytest.raises(ApplicationError) as exc:
        services.import_job_pause(job=paused)
    assert exc.value.code == "import_not_running"
    done = services.import_job_run(job_id=job.pk, batch_size=10)
    assert done.status == "done" and done.applied == 50 and Contract.objects.count() == 50
    assert ImportRow.objects.filter(job=job).count() == 50
    with pytest.raises(ApplicationError) as exc:
        services.import_job_run(job_id=job.pk)
    assert exc.value.code == "import_done"


def test_a_job_held_by_a_live_runner_is_not_run_twice(products):
    job = services.import_job_create(file_name="c.csv", content=csv_bytes([row(1)]))
    ImportJob.objects.filter(pk=job.pk).update(status="running", runner="outra-maquina:1:abc",
                                               heartbeat_at=job.created_at.__class__.now(job.created_at.tzinfo))
    with pytest.raises(ApplicationError) as exc:
        services.import_job_run(job_id=job.pk)
    assert exc.value.code == "import_running" and Contract.objects.count() == 0
    assert services.run_due_imports(max_seconds=5) == {"imports": [], "validations": []}
    ImportJob.objects.filter(pk=job.pk).update(runner="")  # released (e.g. its time budget ended)
    assert services.run_due_imports(max_seconds=5)["imports"] == [job.pk]
    assert ImportJob.objects.get(pk=job.pk).status == "done" and Contract.objects.count() == 1


def test_stored_dry_run_keeps_the_report_and_writes_no_customer(products):
    job = services.import_job_create(file_name="c.csv", content=bad_file(products))
    before = table_counts(exclude_apps=("imports",))
    services.import_job_request_validation(job=job)
    job = services.import_job_validate(job_id=job.pk)
    assert table_counts(exclude_apps=("imports",)) == before
    assert job.status == "validated" and job.report["rejected"] == 12 and job.validated_index == 13
    started = services.import_job_start(job=job)
    assert started.status == "running" and started.runner == ""
    assert services.import_job_run(job_id=job.pk).applied == 1

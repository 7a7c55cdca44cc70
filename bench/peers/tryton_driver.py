"""Tryton's side of bench/peer_billing.py. Runs INSIDE the Tryton virtual environment
(bench/peers/.venv-tryton, made by install_tryton.sh), never with Agrega's.

    python tryton_driver.py setup   --db agrega_tryton_t_2000 --customers 2000
    python tryton_driver.py invoice --db agrega_tryton_t_2000_run --customers 2000

``setup`` fills a copy of agrega_tryton_base the way a Tryton administrator would: a
company in BRL, the "Minimal Account Chart" of the account module, the fiscal year with
monthly periods, a payment term, a monthly recurrence, two service products at Agrega's
SVA prices, N customers (parties with an invoice address) and N subscriptions of the two
services, all quoted and running since the period's first day: nothing consumed or
invoiced yet. Setup is not timed.

``invoice`` is timed: the two batch jobs sale_subscription gives for the period, the
ones its cron entries and its two wizards ("Create Consumptions", "Create Invoices") run
— ``sale.subscription.line.generate_consumption(date)`` and then
``sale.subscription.generate_invoice(date)`` — each in its own transaction as the cron
does (root user, company in the context), timed from the first call to the second
commit. Tryton's pool (its Django setup) is loaded before the clock. Then the result is
checked in SQL: N draft customer invoices dated on the period, 2N lines at the services'
prices, 2N consumptions linked to them, every subscription's next invoice date moved a
month; a fast wrong run fails. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import warnings
from decimal import Decimal

PERIOD = dt.date(2026, 12, 1)  # what Agrega's billing run bills (bench/synthetic.BILL_PERIOD)
NEXT_PERIOD = dt.date(2027, 1, 1)
# Two of Agrega's synthetic SVA products (bench/synthetic.SVA), same names and prices.
SERVICES = (("EXA Segurança Básico", Decimal("9.90")), ("EXA Família", Decimal("19.90")))
SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
BATCH = 500


def connect(db: str) -> None:
    """Load Tryton's pool for ``db`` (the equivalent of Django's setup)."""
    os.environ["TRYTOND_DATABASE_URI"] = SERVER.replace("postgres://", "postgresql://", 1) + "/"
    import logging

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore", "The path specified in the URI")
    from proteus import config

    return config.set_trytond(database=db)


# ---------------------------------------------------------------- setup

def setup(db: str, customers: int) -> dict:
    start = time.perf_counter()
    cfg = connect(db)
    from proteus import Model, Wizard

    Currency = Model.get("currency.currency")
    Party = Model.get("party.party")
    brl = Currency(name="Real", code="BRL", symbol="R$", rounding=Decimal("0.01"), digits=2)
    brl.save()
    # the company, as the "Configure company" wizard does it
    company_config = Wizard("company.company.config")
    company_config.execute("company")
    company_form = company_config.form
    owner = Party(name="Provedor Agrega Bench")
    owner.save()
    company_form.party = owner
    company_form.currency = brl
    company_form.timezone = "America/Sao_Paulo"
    company_config.execute("add")
    User = Model.get("res.user")
    cfg._context = User.get_preferences(True, {})
    company, = Model.get("company.company").find()

    # the chart of accounts: the account module's minimal chart, through its wizard
    AccountTemplate = Model.get("account.account.template")
    ModelData = Model.get("ir.model.data")
    Account = Model.get("account.account")
    template = AccountTemplate(ModelData.get_id("account", "account_template_root_en", cfg.context))
    create_chart = Wizard("account.create_chart")
    create_chart.execute("account")
    create_chart.form.account_template = template
    create_chart.form.company = company
    create_chart.execute("create_account")

    def account(kind):
        found, = Account.find([("type." + kind, "=", True), ("company", "=", company.id),
                               ("closed", "!=", True)], limit=1)
        return found

    receivable, revenue = account("receivable"), account("revenue")
    create_chart.form.account_receivable = receivable
    create_chart.form.account_payable = account("payable")
    create_chart.form.category_account_expense = account("expense")
    create_chart.form.category_account_revenue = revenue
    create_chart.execute("create_properties")

    # the fiscal year 2026–2027 with monthly periods
    FiscalYear = Model.get("account.fiscalyear")
    Sequence = Model.get("ir.sequence.strict")
    SequenceType = Model.get("ir.sequence.type")
    move_type, = SequenceType.find([("name", "=", "Account Move")], limit=1)
    invoice_type, = SequenceType.find([("name", "=", "Invoice")], limit=1)
    for year in (2026, 2027):
        move_sequence = Sequence(name=f"Lançamentos {year}", sequence_type=move_type, company=company)
        move_sequence.save()
        invoice_sequence = Sequence(name=f"Faturas {year}", sequence_type=invoice_type, company=company)
        invoice_sequence.save()
        fiscalyear = FiscalYear(name=str(year), start_date=dt.date(year, 1, 1), end_date=dt.date(year, 12, 31),
                                company=company, move_sequence=move_sequence)
        sequences, = fiscalyear.invoice_sequences
        sequences.out_invoice_sequence = sequences.in_invoice_sequence = invoice_sequence
        sequences.out_credit_note_sequence = sequences.in_credit_note_sequence = invoice_sequence
        fiscalyear.save()
        fiscalyear.click("create_period")

    PaymentTerm = Model.get("account.invoice.payment_term")
    term = PaymentTerm(name="À vista")
    term.lines.new(type="remainder")
    term.save()

    RuleSet = Model.get("sale.subscription.recurrence.rule.set")
    monthly = RuleSet(name="Mensal")
    rule, = monthly.rules
    rule.freq = "monthly"
    rule.interval = 1
    monthly.save()

    Category = Model.get("product.category")
    category = Category(name="Serviços de valor adicionado", accounting=True, account_revenue=revenue)
    category.save()
    Uom = Model.get("product.uom")
    unit, = Uom.find([("name", "=", "Unit")])
    ProductTemplate = Model.get("product.template")
    Service = Model.get("sale.subscription.service")
    services = []
    for name, price in SERVICES:
        tmpl = ProductTemplate(name=name, default_uom=unit, type="service", list_price=price,
                               account_category=category)
        tmpl.save()
        product, = tmpl.products
        service = Service(product=product, consumption_recurrence=monthly)
        service.save()
        services.append((service.id, unit.id, price))

    # N customers and their subscriptions, in batches through the ORM (proteus would
    # make one round of on_change calls per record; the records are the same)
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool(cfg.database_name)
    context = {"company": company.id, "companies": [company.id], "_skip_warnings": True}
    made = 0
    while made < customers:
        batch = range(made + 1, min(customers, made + BATCH) + 1)
        with Transaction().start(cfg.database_name, cfg.user, context=context):
            PartyM = pool.get("party.party")
            Subscription = pool.get("sale.subscription")
            parties = PartyM.create([{
                "name": f"Cliente Sintético {i}",
                "addresses": [("create", [{"street": "Rua das Flores", "city": "São Paulo",
                                           "postal_code": "01001000"}])],
            } for i in batch])
            subs = Subscription.create([{
                "company": company.id, "party": party.id, "currency": brl.id,
                "invoice_address": party.addresses[0].id, "payment_term": term.id,
                "start_date": PERIOD, "invoice_recurrence": monthly.id,
                "lines": [("create", [{
                    "service": service_id, "quantity": 1, "unit": unit_id, "unit_price": price,
                    "consumption_recurrence": monthly.id, "start_date": PERIOD,
                } for service_id, unit_id, price in services])],
            } for party in parties])
            Subscription.quote(subs)
            Subscription.run(subs)
        made += len(batch)
        print(f"  tryton setup: {made:,}/{customers:,} subscriptions running", file=sys.stderr, flush=True)
    return {"setup_seconds": time.perf_counter() - start, "company": company.id}


# ---------------------------------------------------------------- the timed run

def invoice(db: str, customers: int) -> dict:
    cfg = connect(db)
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool(cfg.database_name)
    with Transaction().start(cfg.database_name, 0, readonly=True):
        company, = pool.get("company.company").search([])
        company_id = company.id
        before = (pool.get("account.invoice").search_count([]),
                  pool.get("sale.subscription.line.consumption").search_count([]),
                  pool.get("sale.subscription").search_count([("state", "=", "running"),
                                                               ("next_invoice_date", "=", PERIOD)]))
    if before != (0, 0, customers):
        raise SystemExit(f"{db} is not the un-invoiced state of {customers:,} running subscriptions: "
                         f"invoices, consumptions, subscriptions due = {before}")
    context = {"company": company_id, "_skip_warnings": True}  # what ir.cron sets per company

    db_cpu, py_cpu = backend_cpu(db), self_cpu()
    start = time.perf_counter()
    with Transaction().start(cfg.database_name, 0, context=context):
        pool.get("sale.subscription.line").generate_consumption(date=PERIOD)
    consumed = time.perf_counter()
    with Transaction().start(cfg.database_name, 0, context=context):
        pool.get("sale.subscription").generate_invoice(date=PERIOD)
    seconds = time.perf_counter() - start
    py_cpu = self_cpu() - py_cpu
    db_cpu = sum(cpu - db_cpu.get(pid, 0.0) for pid, cpu in backend_cpu(db).items())

    got = verify(db, customers)
    return {"seconds": seconds, "consumption_seconds": consumed - start, "invoice_seconds": seconds - (
        consumed - start), "py_cpu": py_cpu, "db_cpu": db_cpu, **got}


def self_cpu() -> float:
    usage = os.times()
    return usage.user + usage.system


def backend_cpu(db: str) -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL backend connected to ``db`` (Tryton's
    connection pool), read from /proc: the server is on this machine."""
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres") as conn:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [db])]
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def verify(db: str, customers: int) -> dict:
    """The run's result read back in SQL, apart from Tryton's code."""
    import psycopg

    per_invoice = sum(price for _, price in SERVICES)
    with psycopg.connect(f"{SERVER}/{db}") as conn:
        invoices, right, total, parties = conn.execute(
            """SELECT count(*), count(*) FILTER (WHERE lines = 2 AND amount = %(each)s),
                      coalesce(sum(amount), 0), count(DISTINCT party)
               FROM (SELECT i.id, i.party, count(l.id) AS lines,
                            sum(l.unit_price * l.quantity::numeric) AS amount
                     FROM account_invoice i LEFT JOIN account_invoice_line l ON l.invoice = i.id
                     WHERE i.type = 'out' AND i.state = 'draft' AND i.invoice_date = %(period)s
                     GROUP BY i.id) AS each_invoice""", {"each": per_invoice, "period": PERIOD}).fetchone()
        lines = conn.execute("SELECT count(*) FROM account_invoice_line").fetchone()[0]
        consumptions, linked = conn.execute(
            "SELECT count(*), count(invoice_line) FROM sale_subscription_line_consumption").fetchone()
        moved = conn.execute("SELECT count(*) FROM sale_subscription WHERE next_invoice_date = %s",
                             [NEXT_PERIOD]).fetchone()[0]
    problems = []
    for what, have, should in (("invoices", invoices, customers),
                               (f"invoices of 2 lines adding up to {per_invoice}", right, customers),
                               ("lines", lines, 2 * customers), ("sum of invoices", total, customers * per_invoice),
                               ("consumptions", consumptions, 2 * customers),
                               ("consumptions invoiced", linked, 2 * customers),
                               ("subscriptions moved to next period", moved, customers),
                               ("customers invoiced", parties, customers)):
        if have != should:
            problems.append(f"{what}: {have} (expected {should})")
    return {"invoices": invoices, "lines": lines, "total": str(total), "problems": problems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["setup", "invoice"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--customers", type=int, required=True)
    args = parser.parse_args()
    if not args.db.startswith("agrega_tryton_"):
        raise SystemExit(f"refusing database {args.db!r}: the peer bench uses agrega_tryton_* only")
    result = setup(args.db, args.customers) if args.action == "setup" else invoice(args.db, args.customers)
    import trytond

    print(json.dumps({"tryton": trytond.__version__, **result}), flush=True)
    if result.get("problems"):
        raise SystemExit("WRONG: " + "; ".join(result["problems"]))


if __name__ == "__main__":
    main()

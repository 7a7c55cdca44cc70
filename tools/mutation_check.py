"""Mutation check of the billing and dunning rules: delete (or invert) one guard at a
time and see whether a test notices.

Each mutation replaces one exact snippet (it must occur once) in a copy of the tree
(``git archive`` of a revision, or the working tree's tracked files), then runs
``pytest -x -q`` on the billing and dunning tests and the billing properties against
SQLite (one test database, migrated once). A mutation
no test fails on "survived": a rule nothing guards. Results: docs/mutation-check.md.

    python tools/mutation_check.py                     # every mutation, working tree
    python tools/mutation_check.py --rev 6ee16ba       # as the code and tests were then
    python tools/mutation_check.py --only B03,D12      # a few
    python tools/mutation_check.py --list

One pytest run per mutation (20–45 s each here): run it niced, not in a hurry.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BILLING = "agrega/billing/services.py"
DUNNING = "agrega/dunning/services.py"
DUNNING_SQL = "agrega/dunning/sql.py"  # the sweep's reads
CONTRACTS_SQL = "agrega/contracts/sql.py"  # the set-based status write the sweep asks for
# The tests of these apps, with their property tests and the billing CLI's; the browser
# pages' and the dunning CLI's (beside their apps since issue 16) stay out, as before, and
# so does the CLI's help-output test (it starts a process and checks no rule). The last two
# paths are where the property and CLI tests were before issue 16, for --rev.
TESTS = ["tests/billing", "tests/dunning", "tests/properties/test_billing_days.py",
         "tests/cli/test_billing_commands.py"]
IGNORE = ["tests/billing/test_billing_pages.py", "tests/billing/test_tax_pages.py",
          "tests/dunning/test_dunning_pages.py", "tests/dunning/test_dunning_commands.py"]
DESELECT = ["tests/billing/test_billing_commands.py::test_console_script_help",
            "tests/cli/test_billing_commands.py::test_console_script_help"]
# The tests of the mutated app first: with -x a mutation is killed as soon as one fails.
FIRST = {BILLING: "tests/billing", DUNNING: "tests/dunning", DUNNING_SQL: "tests/dunning", CONTRACTS_SQL: "tests/dunning"}

# (id, file, what the rule is, snippet, replacement). SQL conditions are neutralised as
# "(… OR 1=1)" so the statement keeps its parameters.
MUTATIONS: list[tuple[str, str, str, str, str]] = [
    # ---- billing: amounts and dates
    ("B01", BILLING, "pro rata stops at the product's removal",
     "stop = min(stop, ends_before)", "stop = stop"),
    ("B02", BILLING, "pro rata days never negative",
     "days = max((stop - first).days, 0)", "days = (stop - first).days"),
    ("B03", BILLING, "a whole month is exactly the price",
     "if days >= total:\n        return total, total, price", "if False:\n        return total, total, price"),
    ("B04", BILLING, "pro rata starts at the activation",
     "first = max(period, starts_on) if starts_on else period", "first = period"),
    ("B05", BILLING, "billing day 29–31 falls on a shorter month's last day",
     "return period.replace(day=min(billing_day, days_in_month(period)))",
     "return period.replace(day=min(billing_day, 28))"),
    ("B06", BILLING, "money: amount must be positive",
     "if not amount.is_finite() or amount <= 0:", "if not amount.is_finite():"),
    ("B07", BILLING, "money: at most two decimal places",
     "if amount != amount.quantize(CENT):", "if False:"),
    ("B08", BILLING, "money: upper bound",
     'if amount >= Decimal("10000000000"):', "if False:"),
    # ---- billing: the run
    ("B10", BILLING, "run bills only active contracts",
     "Contract.objects.filter(status=ContractStatus.ACTIVE, pk__gt=last_id,",
     "Contract.objects.filter(pk__gt=last_id,"),
    ("B11", BILLING, "run bills only contracts activated before the period ends",
     "activated_at__lt=activated_before)", ")"),
    ("B12", BILLING, "run skips contracts already billed for the period",
     ".filter(~Exists(already))", ""),
    ("B13", BILLING, "products removed before the period are not billed",
     ".exclude(removed_at__lt=period_begins)", ""),
    ("B14", BILLING, "products added after the period are not billed",
     "ContractProduct.objects.filter(in_chunk, added_at__lt=period_ends)",
     "ContractProduct.objects.filter(in_chunk)"),
    ("B15", BILLING, "a contract activated after the 1st is not billed the whole month",
     "whole_from_start = activated_at is None or activated_at < second_day", "whole_from_start = True"),
    ("B16", BILLING, "whole-month shortcut only for products there all month",
     "if whole_from_start and added_at < second_day and (removed_at is None or removed_at >= period_ends):",
     "if whole_from_start:"),
    ("B17", BILLING, "a product with no day in the period gets no line",
     "if days <= 0:\n                continue", "if False:\n                continue"),
    ("B18", BILLING, "a contract with no lines gets no título",
     "if not lines:\n            continue", "if False:\n            continue"),
    ("B19", BILLING, "credit applied is at most the título's gross",
     "credit = min(credits.get(contract_id, ZERO), gross)", "credit = credits.get(contract_id, ZERO)"),
    ("B20", BILLING, "a título fully covered by credit is born paid",
     "status = InvoiceStatus.OPEN if amount > 0 else InvoiceStatus.PAID", "status = InvoiceStatus.OPEN"),
    ("B21", BILLING, "only a positive credit balance is applied",
     ".annotate(balance=Sum(\"amount\")).filter(balance__gt=0)", ".annotate(balance=Sum(\"amount\"))"),
    ("B22", BILLING, "credit used is recorded (negative entry)",
     "if credit > 0:\n            credit_rows.append", "if False:\n            credit_rows.append"),
    ("B23", BILLING, "a new título lowers oldest_open_due only when older (SQLite branch)",
     "Q(oldest_open_due__isnull=True) | Q(oldest_open_due__gt=due)",
     "Q(oldest_open_due__isnull=True) | Q(oldest_open_due__gt=due) | Q(pk__gt=0)"),
    ("B24", BILLING, "oldest_open_due counts open títulos only",
     'oldest = (Invoice.objects.filter(contract=OuterRef("pk"), status=InvoiceStatus.OPEN)',
     'oldest = (Invoice.objects.filter(contract=OuterRef("pk"))'),
    # ---- billing: cancel and pay
    ("B30", BILLING, "a cancelled título cannot be cancelled again",
     'if invoice.status == InvoiceStatus.CANCELLED:\n        raise InvalidTransition("invoice_cancelled", "Este',
     'if False:\n        raise InvalidTransition("invoice_cancelled", "Este'),
    ("B31", BILLING, "a título with payments cannot be cancelled",
     "if invoice.paid_amount > 0:", "if False:"),
    ("B32", BILLING, "cancelling gives the applied credit back",
     "if invoice.credit_applied > 0:", "if False:"),
    ("B33", BILLING, "payment date not in the future",
     "if paid_on > timezone.localdate() + timedelta(days=1):", "if False:"),
    ("B34", BILLING, "payment id at most 120 characters",
     "if len(external_id) > 120:", "if False:"),
    ("B35", BILLING, "a payment id already applied is not applied again",
     "        if external_id:\n            seen = Payment.objects",
     "        if False:\n            seen = Payment.objects"),
    ("B36", BILLING, "a cancelled título takes no payment",
     'if invoice.status == InvoiceStatus.CANCELLED:\n            raise',
     'if False:\n            raise'),
    ("B37", BILLING, "the excess of a payment is what exceeds the balance",
     "excess = amount - owed_before if amount > owed_before else ZERO", "excess = ZERO"),
    ("B38", BILLING, "paid in full settles the título (boundary: exactly the amount)",
     "invoice.paid_amount >= invoice.amount:", "invoice.paid_amount > invoice.amount:"),
    ("B39", BILLING, "an excess becomes credit",
     "if excess > 0:", "if False:"),
    ("B40", BILLING, "a payment id reused with another título or amount is refused",
     "if seen.invoice_id != int(invoice_id) or seen.amount != amount:", "if False:"),
    ("B41", BILLING, "a payment id reused with another amount is refused",
     "if seen.invoice_id != int(invoice_id) or seen.amount != amount:", "if seen.invoice_id != int(invoice_id):"),
    # ---- billing: added with issue 15 (not in the code before it)
    ("N01", BILLING, "catch-up: earlier months since the last finished run are billed",
     "while month is not None and month < current:", "while False:"),
    ("N02", BILLING, "catch-up: a month is closed by a run that began after it ended",
     "if not finished.filter(period=month, started_at__gte=_local_midnight(following) + CATCH_UP_MARGIN).exists():",
     "if True:"),
    ("N03", BILLING, "minimum notice: only a first (or late) título",
     "if due < earliest and contract_id not in known:", "if due < earliest:"),
    ("N04", BILLING, "minimum notice applied",
     "if due < earliest and contract_id not in known:", "if False:"),
    ("N05", BILLING, "minimum notice: a late título (issued after its month) too",
     "if period < period_start(today) or not close:", "if not close:"),
    ("N06", BILLING, "paid_at: the payment that settled it by date, not by arrival",
     'invoice.paid_at = _settled_on(invoice)\n            invoice.save(update_fields=["status", "paid_at"])',
     'invoice.paid_at = paid_on\n            invoice.save(update_fields=["status", "paid_at"])'),
    ("N07", BILLING, "paid_at: moves back when an earlier payment arrives later",
     "elif invoice.status == InvoiceStatus.PAID and invoice.amount > 0:", "elif False:"),
    ("N08", BILLING, "paid_at: settled when the total reaches the amount (boundary)",
     "if total >= invoice.amount:", "if total > invoice.amount:"),
    ("N09", BILLING, "paid_at of a título covered by credit: the day it was issued",
     "today if status == InvoiceStatus.PAID else None", "due if status == InvoiceStatus.PAID else None"),
    # ---- dunning: policies
    ("D01", DUNNING, "unknown preset refused",
     "    if preset not in PRESETS:\n        raise", "    if False:\n        raise"),
    ("D02", DUNNING, "block days only for the simples preset",
     'if block_after_days is not None and preset != "simples":', "if False:"),
    ("D03", DUNNING, "block days between 1 and 365",
     "if not isinstance(block_after_days, int) or not 1 <= block_after_days <= 365:", "if False:"),
    ("D04", DUNNING, "policy names are unique (clear error)",
     "if DunningPolicy.objects.filter(name=name).exists():", "if False:"),
    ("D05", DUNNING, "a new default unsets the old one",
     "    if make_default:\n        DunningPolicy", "    if False:\n        DunningPolicy"),
    ("D06", DUNNING, "a régua needs a stage",
     "    if not stages:\n        errors.add", "    if False:\n        errors.add"),
    ("D07", DUNNING, "stage days between 1 and 3650",
     "if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:",
     "if not isinstance(days, int) or isinstance(days, bool):"),
    ("D08", DUNNING, "stage days grow",
     "elif days <= previous:", "elif False:"),
    ("D09", DUNNING, "stage action must be known",
     "if action not in DunningAction.values:", "if False:"),
    # ---- dunning: the sweep
    ("D10", DUNNING, "a régua without stages is skipped",
     "        if not stages:\n            continue", "        if False:\n            continue"),
    ("D11", DUNNING, "contracts without a régua follow the default one",
     "default=policy.pk == default.pk", "default=False"),
    ("D12", DUNNING, "a stage already applied is not applied again",
     "if stage.level <= level or due > cutoff:", "if due > cutoff:"),
    ("D13", DUNNING, "a stage applies only once its day has come",
     "if stage.level <= level or due > cutoff:", "if stage.level <= level:"),
    ("D14", DUNNING, "a stage's day is due + days (boundary)",
     "if stage.level <= level or due > cutoff:", "if stage.level <= level or due >= cutoff:"),
    ("D15", DUNNING, "nothing after a rescission",
     "        if status != CS.ACTIVE:\n            break", "        if False:\n            break"),
    ("D16", DUNNING, "FA escalates to CA (total suspension)",
     "                                    AS.OVERDUE: (CS.ACTIVE, AS.AUTOMATIC_BLOCK)},", "},"),
    ("D17", DUNNING_SQL, "sweep reads only active contracts",
     'f"WHERE status = %s AND oldest_open_due <= %s', 'f"WHERE (status = %s OR 1=1) AND oldest_open_due <= %s'),
    ("D18", DUNNING_SQL, "sweep reads only contracts below the last stage",
     "AND dunning_level < %s ", "AND (dunning_level < %s OR 1=1) "),
    ("D19", DUNNING_SQL, "sweep skips contracts in a trust release (read)",
     'f"AND trust_release_until IS NULL AND {policy_sql} "\n',
     'f"AND (trust_release_until IS NULL OR 1=1) AND {policy_sql} "\n'),
    ("D20", CONTRACTS_SQL, "sweep write re-checks the status",
     '(("status", expect.status), ', '(("status", None), '),
    ("D21", CONTRACTS_SQL, "sweep write re-checks the stage",
     '("dunning_level", expect.dunning_level)', '("dunning_level", None)'),
    ("D22", CONTRACTS_SQL, "sweep write re-checks the access status",
     '("access_status", expect.access_status)', '("access_status", None)'),
    ("D23", CONTRACTS_SQL, "sweep write re-checks no trust release",
     "    if expect.no_trust_release:\n        where.append", "    if False:\n        where.append"),
    ("D24", CONTRACTS_SQL, "sweep write re-checks it still owes since the stage's day",
     "    if expect.owing_by is not None:\n        where.append", "    if False:\n        where.append"),
    ("D25", DUNNING, "rescission records the end of the contract",
     "ended=to_status != CS.ACTIVE),", "ended=False),"),
    ("D26", DUNNING, "rescission is recorded as such in the Histórico",
     "action = Act.RESCIND if to_status == CS.NEGATIVADO else Act.DUNNING_STAGE", "action = Act.DUNNING_STAGE"),
    ("D27", DUNNING, "a notice only for a notice stage",
     "if stage.action == DunningAction.NOTICE and not changed:", "if not changed:"),
    # ---- dunning: release and trust
    ("D30", DUNNING, "released when nothing is overdue (due today is not overdue)",
     "Q(oldest_open_due__isnull=True) | Q(oldest_open_due__gte=today)",
     "Q(oldest_open_due__isnull=True) | Q(oldest_open_due__gt=today)"),
    ("D31", DUNNING, "release only for active contracts",
     "qs = Contract.objects.filter(not_overdue, status=CS.ACTIVE)", "qs = Contract.objects.filter(not_overdue)"),
    ("D32", DUNNING, "a manual block (CM) is never lifted by payment",
     'by_access[access if access in DUNNING_BLOCKS else ""].append(pk)', "by_access[access].append(pk)"),
    ("D33", DUNNING, "release re-reads under the lock",
     "rows = list(Contract.objects.filter(not_overdue, pk__in=ids)", "rows = list(Contract.objects.filter(pk__in=ids)"),
    ("D34", DUNNING, "payment ends the trust release",
     'ended_at=now, ended_reason="paid")', 'ended_reason="paid")'),
    ("D35", DUNNING, "trust release days within the policy's limit",
     "not 1 <= days <= policy.trust_release_days:", "not 1 <= days:"),
    ("D36", DUNNING, "trust release limited uses",
     "if not availability.available:", "if False:"),
    ("D37", DUNNING, "expired trust release blocks again only if still overdue",
     "overdue = oldest_due is not None and oldest_due < today", "overdue = oldest_due is not None"),
    ("D38", DUNNING, "expired trust release restores only a dunning block, on an active contract",
     "if status == CS.ACTIVE and access == AS.ACTIVE and target in DUNNING_BLOCKS:",
     "if access == AS.ACTIVE and target in DUNNING_BLOCKS:"),
    ("D39", DUNNING, "expired trust release leaves an access changed meanwhile",
     "if status == CS.ACTIVE and access == AS.ACTIVE and target in DUNNING_BLOCKS:",
     "if status == CS.ACTIVE and target in DUNNING_BLOCKS:"),
    ("D40", DUNNING, "trust release expires at its end (boundary)",
     ".filter(trust_release_until__lte=now)", ".filter(trust_release_until__lt=now)"),
]


def copy_tree(rev: str | None, dest: Path) -> None:
    if rev:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard"], check=True,
                           capture_output=True, text=True).stdout.split()
    for name in files:
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def migrate_once(tree: Path) -> None:
    """A migrated test database kept aside (the run below only rolls back), copied in
    before each run: a transactional test flushes the tables, presets included."""
    db = tree / "var" / "mutation-test.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1", "AGREGA_TEST_SQLITE": str(db)}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--create-db", "--reuse-db",
                    "tests/dunning/test_config.py::test_presets_installed_by_the_migration"],
                   cwd=tree, env=env, check=True, capture_output=True)
    shutil.copy2(db, db.with_suffix(".pristine"))


def run_tests(tree: Path, timeout: int, first: str | None = None) -> tuple[str, float, str]:
    db = tree / "var" / "mutation-test.sqlite3"
    for leftover in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copy2(db.with_suffix(".pristine"), db)
    # one SQLite test database per tree, migrated once and reused (--reuse-db)
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1",
           "AGREGA_TEST_SQLITE": str(db)}
    env.pop("DATABASE_URL", None)  # SQLite
    tests = sorted((t for t in TESTS if (tree / t).exists()), key=lambda t: t != first)
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-p", "no:cacheprovider", "--reuse-db",
                               *(f"--deselect={name}" for name in DESELECT),
                               *(f"--ignore={path}" for path in IGNORE), *tests],
                              cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "killed (timeout)", time.monotonic() - started, ""
    elapsed = time.monotonic() - started
    failed = [line.split(" - ")[0] for line in proc.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    if proc.returncode == 0:
        return "survived", elapsed, ""
    last = proc.stdout.strip().splitlines()[-1:] or [""]
    return "killed", elapsed, (failed or last)[0][:160]


def table(before: list[dict], after: list[dict]) -> str:
    """Markdown: every mutation that survived before, and what it is after."""
    later = {r["id"]: r for r in after}
    lines = ["| id | rule (guard removed or inverted) | before | after | caught by |", "|---|---|---|---|---|"]
    for r in before:
        if r["status"] != "survived":
            continue
        a = later.get(r["id"], {"status": "not run", "caught_by": ""})
        caught = a["caught_by"].replace("FAILED ", "").replace("ERROR ", "")
        lines.append(f"| {r['id']} | {r['rule']} | {r['status']} | {a['status']} | `{caught}` |" if caught
                     else f"| {r['id']} | {r['rule']} | {r['status']} | {a['status']} | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", help="git revision to test (default: the working tree)")
    parser.add_argument("--only", help="comma-separated mutation ids")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--skip-baseline", action="store_true", help="do not first run the unmutated tests")
    parser.add_argument("--table", nargs=2, metavar=("BEFORE", "AFTER"),
                        help="print the markdown table of two --json results and exit")
    args = parser.parse_args()
    if args.table:
        print(table(*(json.loads(Path(name).read_text()) for name in args.table)))
        return 0
    chosen = MUTATIONS
    if args.only:
        wanted = set(args.only.split(","))
        chosen = [m for m in MUTATIONS if m[0] in wanted]
    if args.list:
        for mid, path, rule, *_ in chosen:
            print(f"{mid}  {path.split('/')[1]:8} {rule}")
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        tree = Path(tmp)
        copy_tree(args.rev, tree)
        (tree / "var").mkdir(exist_ok=True)
        migrate_once(tree)
        status, elapsed, _ = (("survived", 0.0, "") if args.skip_baseline else run_tests(tree, args.timeout))
        print(f"baseline: {status} ({elapsed:.0f}s)", flush=True)
        if status != "survived":
            print("the unmutated tests fail: fix that first", file=sys.stderr)
            return 2
        for mid, path, rule, old, new in chosen:
            target = tree / path
            original = target.read_text()
            count = original.count(old)
            if count != 1:
                status, elapsed, detail = f"not applied ({count} matches)", 0.0, ""
            else:
                target.write_text(original.replace(old, new))
                try:
                    status, elapsed, detail = run_tests(tree, args.timeout, FIRST.get(path))
                finally:
                    target.write_text(original)
            results.append({"id": mid, "file": path, "rule": rule, "status": status, "seconds": round(elapsed),
                            "caught_by": detail})
            print(f"{mid}  {status:10} {elapsed:4.0f}s  {rule}  {detail}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, ensure_ascii=False))
    survived = [r["id"] for r in results if r["status"] == "survived"]
    print(f"{len(results)} mutations, {len(survived)} survived: {', '.join(survived) or '-'}")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())

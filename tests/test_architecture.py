"""The import rules and "one writer per rule", checked on the code itself.

- ``lint-imports`` (the contracts in pyproject.toml's ``[tool.importlinter]``): domain
  apps never import ``web``; billing never imports dunning; contracts' domain imports no
  app that moves contracts; each app's ``sql`` module is called only by its own app.
- Only the contracts app writes a contract's status or access status, or a Histórico
  event (``ContractEvent``): every other module is read (AST) for ORM writes, bulk
  inserts and hand-written SQL that would do it. The checker is first shown the writes
  the dunning and imports apps made before issue 16, so it cannot pass by seeing nothing.
- No app writes another domain app's tables (ORM writes through its models, bulk
  inserts, hand-written SQL): it calls that app's services. Same check, same proof.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AGREGA = ROOT / "agrega"
STATUS_FIELDS = {"status", "access_status"}
CONTRACT_MODELS = {"Contract", "ContractEvent"}
INSERTERS = {"bulk_create", "create", "insert", "insert_dicts", "insert_returning", "insert_new", "get_or_create",
             "update_or_create"}
SQL_WRITE = re.compile(r"\b(UPDATE|INSERT\s+INTO)\b[^;]*", re.IGNORECASE)


def _root_names(node: ast.AST) -> set[str]:
    """Every plain name in an expression (``Contract`` in ``Contract.objects.filter(…)``)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _text(node: ast.AST) -> str:
    """A string constant or the constant parts of an f-string, with ``{…}`` for the
    interpolated parts and the names they use (``{Contract._meta.db_table}``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append("{" + " ".join(sorted(_root_names(value))) + "}")
        return "".join(parts)
    return ""


def contract_writes(source: str, filename: str = "<code>") -> list[str]:
    """Where ``source`` writes a contract's status/access status or a ContractEvent."""
    tree = ast.parse(source, filename)
    found = []
    table_names = set()  # local names bound to the contracts' tables (``table = quote(Contract._meta.db_table)``)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and "_meta" in ast.unparse(node.value) and \
                _root_names(node.value) & CONTRACT_MODELS:
            table_names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("contracts.models"):
            if any(alias.name == "ContractEvent" for alias in node.names):
                found.append(f"{where}: imports ContractEvent (the Histórico is written by contracts only)")
        if isinstance(node, ast.Call):
            attr = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            names = _root_names(node.func) if isinstance(node.func, ast.Attribute) else set()
            args = {a.id for a in node.args if isinstance(a, ast.Name)}
            if attr == "update" and "Contract" in names and {k.arg for k in node.keywords} & STATUS_FIELDS:
                found.append(f"{where}: Contract ….update() of a status")
            if attr in INSERTERS and (names | args) & CONTRACT_MODELS and (
                    attr not in {"create", "get_or_create", "update_or_create"} or names & CONTRACT_MODELS):
                found.append(f"{where}: inserts {', '.join(sorted((names | args) & CONTRACT_MODELS))}")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr in STATUS_FIELDS and \
                        isinstance(target.value, ast.Name) and "contract" in target.value.id.lower():
                    found.append(f"{where}: sets {target.value.id}.{target.attr}")
        text = _text(node)
        if text:
            for match in SQL_WRITE.finditer(text):
                sql = match.group(0)
                touches = ("contracts_contract" in sql or "Contract" in sql
                           or any("{" + name in sql or name + "}" in sql for name in table_names))
                if touches and (re.search(r"\b(access_)?status\s*=", sql) or "contractevent" in sql.lower()
                                or "ContractEvent" in sql):
                    found.append(f"{where}: SQL writes contracts: {sql[:80]!r}")
    return found


# What dunning/services.py and imports/services.py did before issue 16 (9d38c08).
BEFORE = '''
from agrega.contracts.models import Contract, ContractEvent

def release(unblock, now):
    Contract.objects.filter(pk__in=unblock).update(access_status=AS.ACTIVE, version=_plus_one(), updated_at=now)

def trust(contract, before):
    ContractEvent.objects.create(contract=contract, action=Act.TRUST_RELEASE, from_status=contract.status)

def group(ids, to_level, to_status, to_access):
    table = connection.ops.quote_name(Contract._meta.db_table)
    return (f"UPDATE {table} SET dunning_level = %s, status = %s, access_status = %s WHERE id = ANY(%s)", [])

def events(rows):
    insert_returning(ContractEvent, ["contract", "action"], rows, returning=())
    bulk.insert(ContractEvent, rows, returning=())
'''


def _modules():
    for path in sorted(AGREGA.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[1] == "contracts" or "migrations" in rel.parts:
            continue
        yield rel, path.read_text(encoding="utf-8")


def test_the_checker_finds_the_writes_other_apps_made_before():
    found = contract_writes(BEFORE)
    assert len(found) == 6, found
    assert contract_writes("Contract.objects.filter(pk=1).update(sales_plan=plan)") == []


def test_only_the_contracts_app_writes_contract_statuses_and_history():
    found = [hit for rel, source in _modules() for hit in contract_writes(source, str(rel))]
    assert found == [], "\n".join(found)


# ---------------------------------------------------------------- no app writes another app's tables

WRITERS = {"update", "create", "bulk_create", "bulk_update", "delete", "get_or_create", "update_or_create"}
BULK_INSERTS = {"insert_returning", "insert_new", "insert_dicts"}
# Demo data (``agrega seed-demo``, ``seed-fiscal``) is set up directly, across apps.
DEMO_SEEDS = re.compile(r"/management/commands/seed_\w+\.py$")


def foreign_writes(source: str, app: str, filename: str = "<code>") -> list[str]:
    """Where ``source`` (a module of ``app``) writes a table of another domain app: an ORM
    write (``update``, ``create``, ``bulk_create``, ``delete``, …) through a model imported
    from another app's ``models``, a bulk insert of one (``core.bulk``), or hand-written
    INSERT/UPDATE/DELETE on its table. ``core``'s tables (the audit record, the tasks) are
    every app's to write; a write through another app's services is how it is done."""
    tree = ast.parse(source, filename)
    foreign: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("agrega.") and \
                node.module.endswith(".models"):
            owner = node.module.split(".")[1]
            if owner not in {app, "core"}:
                foreign.update({alias.asname or alias.name: owner for alias in node.names})
    tables = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and "_meta" in ast.unparse(node.value):
            owners = {foreign[n] for n in _root_names(node.value) if n in foreign}
            if owners:
                tables.update({t.id: owners.pop() for t in node.targets if isinstance(t, ast.Name)})
    found = []
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            func = node.func
            attr = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if attr in WRITERS and isinstance(func, ast.Attribute) and "objects" in ast.unparse(func):
                owners = sorted({foreign[n] for n in _root_names(func) if n in foreign})
                if owners:
                    found.append(f"{where}: {app} writes {owners[0]}'s table ({ast.unparse(func)[:70]}…)")
            if attr in BULK_INSERTS and node.args and isinstance(node.args[0], ast.Name) and \
                    node.args[0].id in foreign:
                found.append(f"{where}: {app} inserts into {foreign[node.args[0].id]}'s table ({node.args[0].id})")
        text = _text(node)
        for match in re.finditer(r"\b(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+(\{[^}]*\}|\"?\w+)", text,
                                 re.IGNORECASE):
            target = match.group(1).strip('{}"')
            owners = {tables[n] for n in target.split() if n in tables}
            owners |= {foreign[n] for n in target.split() if n in foreign}
            owners |= {owner for model, owner in foreign.items() if target == f"{owner}_{model.lower()}"}
            for owner in sorted(owners):
                found.append(f"{where}: {app} writes {owner}'s table in SQL ({text[:60]!r}…)")
    return found


# What billing, plans, notices and the SVA worker did before the issue 16 audit.
FOREIGN_BEFORE = '''
from agrega.contracts.models import Contract
from agrega.integrations.models import SvaIntegration
from agrega.core.models import ChangeRecord

def lower(ids, due):
    Contract.objects.filter(pk__in=ids).update(oldest_open_due=due)

def health(pk, now):
    SvaIntegration.objects.filter(pk=pk).update(consecutive_failures=0, last_success_at=now)

def in_sql(due, ids):
    table = quote(Contract._meta.db_table)
    cursor.execute(f"UPDATE {table} SET oldest_open_due = %s WHERE id = ANY(%s)", [due, ids])

def audit():
    ChangeRecord.objects.create(object_type="x")  # core's: every app writes its audit record
'''


def test_the_checker_finds_writes_of_another_apps_tables():
    found = foreign_writes(FOREIGN_BEFORE, "billing")
    assert len(found) == 3, found
    assert foreign_writes(FOREIGN_BEFORE, "contracts") != found  # its own table is its own
    assert foreign_writes("from agrega.contracts.models import Contract\nContract.objects.filter(pk=1).first()",
                          "billing") == []


def test_no_app_writes_another_apps_tables():
    found = []
    for path in sorted(AGREGA.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if len(rel.parts) < 3 or "migrations" in rel.parts or DEMO_SEEDS.search(rel.as_posix()):
            continue
        found += foreign_writes(path.read_text(encoding="utf-8"), rel.parts[1], str(rel))
    assert found == [], "\n".join(found)


def test_import_rules_hold():
    """``lint-imports`` with the contracts of pyproject.toml; its report on failure."""
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and " 0 broken" in result.stdout


# Django's undocumented internals (issue 16, item 2), and the files allowed to keep some,
# each named (docs/decisions/0013-database-internals.md, 0017-persistent-connections.md).
DJANGO_INTERNALS = re.compile(
    r"sql_with_params|make_cursor|make_debug_cursor|validate_thread_sharing|queries_logged"
    r"|wrap_database_errors|connection\.connection\b|\.features\.|MigrationExecutor|_meta\.(private|_)"
    r"|\._state\.(?!adding\b|db\b)|in_atomic_block|settings_dict|ensure_connection|get_compiler|get_connection_params"
    r"|is_usable"
    r"|django\.db\.models\.sql\b|django\.db\.backends\.utils|django\.db\.migrations\.(executor|loader|recorder)")
ALLOWED_INTERNALS = {"core/dbapi.py": {"wrap_database_errors"}, "core/connections.py": {"is_usable", "connection.connection"}}


def django_internals(source: str, allowed: set[str] = frozenset()) -> list[str]:
    """Lines of ``source`` that name one of Django's internals not in ``allowed``."""
    return [f"{number}: {line.strip()}" for number, line in enumerate(source.splitlines(), 1)
            if any(m.group(0) not in allowed for m in DJANGO_INTERNALS.finditer(line))]


def test_the_internals_checker_finds_what_agrega_used_before():
    before = '''
        subquery, params = queryset.query.sql_with_params()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        connection.validate_thread_sharing()
        wrapped = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
        if connection.features.has_select_for_update_skip_locked:
        executor = MigrationExecutor(connection)
        parallel = not connection.in_atomic_block
        fields = model._meta._get_fields()
        if obj._state.fields_cache:
    '''
    assert len(django_internals(before)) == 9
    assert django_internals("if obj._state.adding and obj._state.db == 'default': model._meta.get_field('x')") == []
    assert django_internals("with connection.wrap_database_errors:", {"wrap_database_errors"}) == []


def test_no_django_internals_outside_their_one_wrapper():
    found = []
    for path in sorted(AGREGA.rglob("*.py")):
        name = path.relative_to(AGREGA).as_posix()
        found += [f"agrega/{name}:{hit}" for hit in django_internals(path.read_text(), ALLOWED_INTERNALS.get(name, set()))]
    assert found == []

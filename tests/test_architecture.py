"""The import rules and "one writer per rule", checked on the code itself.

- ``lint-imports`` (the contracts in pyproject.toml's ``[tool.importlinter]``): domain
  apps never import ``web``; billing never imports dunning; contracts' domain imports no
  app that moves contracts; each app's ``sql`` module is called only by its own app.
- Only the contracts app writes a contract's status or access status, or a Histórico
  event (``ContractEvent``): every other module is read (AST) for ORM writes, bulk
  inserts and hand-written SQL that would do it. The checker is first shown the writes
  the dunning and imports apps made before issue 16, so it cannot pass by seeing nothing.
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


def test_import_rules_hold():
    """``lint-imports`` with the contracts of pyproject.toml; its report on failure."""
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and " 0 broken" in result.stdout

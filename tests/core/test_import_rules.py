"""The layering rule ``web`` is the pages shell: no domain app imports it (the helpers page
modules share live in ``agrega.core.web`` / ``agrega.core.permissions``). Checked on the real
import graph (grimp, the engine of import-linter), so a new import anywhere fails here."""

import grimp

SHELL = {"agrega.web", "agrega.urls", "agrega.api", "agrega.settings", "agrega.wsgi", "agrega.cli"}


def test_no_domain_app_imports_the_web_shell():
    graph = grimp.build_graph("agrega")
    offenders = sorted(
        (importer, imported)
        for imported in graph.find_descendants("agrega.web") | {"agrega.web"}
        for importer in graph.find_modules_that_directly_import(imported)
        if not any(importer == s or importer.startswith(s + ".") for s in SHELL)
    )
    assert offenders == []


def test_the_rule_sees_an_import_of_web():
    """The check above would see an offender: the graph does hold the shell's own imports."""
    graph = grimp.build_graph("agrega")
    assert graph.find_modules_that_directly_import("agrega.web.views")


def test_the_architecture_diagram_is_the_import_graph():
    """docs/architecture.md shows the imports as they are; after a change of imports,
    ``python tools/import_graph.py --write`` regenerates the diagram and the table."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "tools" / "import_graph.py"
    spec = importlib.util.spec_from_file_location("import_graph", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.documented() == tool.block()
    _, rules, _ = tool.app_edges()
    assert "sva" in rules["campaigns"]  # the graph is read (a campaign creates SVA users)
    assert [app for app, targets in rules.items() if "web" in targets] == []

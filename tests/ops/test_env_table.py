"""Every environment variable Agrega's settings (and the console script) read is in the
README's configuration table."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env_reads(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        target = None
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv",
                                                                     "os.environ.setdefault"):
            target = node.args[0] if node.args else None
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            target = node.slice
        if isinstance(target, ast.Constant) and isinstance(target.value, str):
            names.add(target.value)
    return names - {"DJANGO_SETTINGS_MODULE"}


def readme_table_names() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Configuration"):]
    section = section[:section.index("\n## ", 1)]
    names = set()
    for line in section.splitlines():
        if line.startswith("|"):
            first_cell = line.split("|")[1]
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
    return names


def test_settings_read_some_variables():
    assert {"DATABASE_URL", "AGREGA_SECRET_KEY", "AGREGA_TEST_SQLITE"} <= env_reads(ROOT / "agrega" / "settings.py")


def test_every_variable_read_is_in_the_readme_table():
    read = env_reads(ROOT / "agrega" / "settings.py") | env_reads(ROOT / "agrega" / "cli.py")
    missing = sorted(read - readme_table_names())
    assert missing == [], f"add these to README.md's configuration table: {missing}"

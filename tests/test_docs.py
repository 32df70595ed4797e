"""Everything documented is tested: the README must keep up with the model, the KPIs and the config."""

from __future__ import annotations

import ast
from pathlib import Path

from servicelens import configdoc
from servicelens.kpis import KPI_LABELS
from servicelens.model import EVENT_FIELDS, INTERACTION_FIELDS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOC_PAGES = sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))


def test_two_commands_come_first() -> None:
    head = "\n".join(README.splitlines()[:40])
    assert "make run" in head and "make test" in head


def test_every_model_field_is_documented() -> None:
    for name in [*INTERACTION_FIELDS, *EVENT_FIELDS]:
        assert f"| `{name}` |" in README, name


def test_every_kpi_has_its_formula_in_the_readme() -> None:
    for label in KPI_LABELS.values():
        assert label.split(" (")[0].lower() in README.lower(), label
    for formula in ("ratings of 4 or 5", "answers 9-10", "mean of `ces`", "resolved at first contact"):
        assert formula in README


def test_config_reference_is_up_to_date() -> None:
    block = README.split(configdoc.START, 1)[1].split(configdoc.END, 1)[0].strip()
    assert block == configdoc.reference(), "run: python -m servicelens.configdoc --write README.md"


def test_linked_docs_exist() -> None:
    for target in DOC_PAGES:
        assert f"]({target})" in README
        assert (ROOT / target).is_file(), target


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_sla_and_audits_are_pure() -> None:
    forbidden = {"streamlit", "sqlalchemy", "httpx", "storage", "app_pages", "psycopg", "alembic"}
    for package in ("sla", "audits"):
        for path in (ROOT / package).rglob("*.py"):
            assert not (_imports(path) & forbidden), f"{path} imports {_imports(path) & forbidden}"

"""The documentation cannot drift from the code: the reference pages are what the code generates, the README stays
short, and README and docs link only to files of the repository."""

import re
from pathlib import Path

from loadgen.report import reference

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_the_reference_pages_are_what_the_code_generates():
    for name, text in reference.pages().items():
        committed = (reference.DOCS / name).read_text(encoding="utf-8")
        assert committed == text, f"docs/reference/{name} differs from the code: run `make docs` and commit it"


def test_every_scenario_key_is_in_the_reference():
    from loadgen.scenario.model import scenario_model
    from loadgen.workloads import registry

    page = reference.scenario_page()
    for model in [scenario_model(), *registry.options_models().values()]:
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in page or name == "workload"


def test_every_result_column_is_in_the_reference():
    from loadgen import columns

    page = reference.results_page()
    for column in columns.SUMMARY + columns.WORKERS:
        assert f"| `{column.name}` |" in page


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_bytes()) <= 15_000


def test_links_stay_inside_the_repository_and_resolve():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+://", target):
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{page.relative_to(ROOT)} links outside the repository: {target}"
            assert resolved.exists(), f"{page.relative_to(ROOT)} links to missing {target}"


def test_no_words_only_insiders_know():
    for page in PAGES:
        text = page.read_text(encoding="utf-8").lower()
        for words in ("seed benchmark", "seed wall", "../shared", "design.md (shared"):
            assert words not in text, f"{page.relative_to(ROOT)}: {words!r}"

"""The documentation cannot drift from the code: the reference pages are what the code generates, the README stays
short, and README and docs link only to files of the repository."""

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

"""Command line: run, validate, list. The one place that turns a LoadgenError into `error: …` + exit code."""

import argparse
import json
import os
import re
import sys
import textwrap
from pathlib import Path

import yaml
from rich.console import Console

from loadgen import __version__
from loadgen.config.phase import PhaseOptions
from loadgen.errors import EXIT_OK, LoadgenError, ScenarioError
from loadgen.report.terminal import clean, counted, say
from loadgen.scenario.load import load_plan
from loadgen.scenario.model import scenario_model
from loadgen.workloads import registry
from loadgen.workloads.python.loader import LoadProblem


class Parser(argparse.ArgumentParser):
    def error(self, message):
        super().error(clean(message))  # it quotes what was typed: control characters escaped


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="loadgen", description="Load generator for the Hyper database.")
    parser.add_argument("--version", action="version", version=f"loadgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a scenario and write a results folder")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario key, e.g. workers=2, rows=1000000, insert_arrow.method=rows (repeatable)",
    )
    run.add_argument("--results-dir", help="parent folder for the run folder (overrides output.dir)")
    run.add_argument("--quiet", action="store_true", help="no live progress line")
    run.add_argument(
        "--wide", action="store_true", help="the full result tables even when they are wider than the terminal"
    )

    validate = commands.add_parser("validate", help="check scenario files; report every mistake with file:line")
    validate.add_argument("scenarios", nargs="+", help="scenario YAML files")
    validate.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")

    listing = commands.add_parser("list", help="list the scenarios in a folder with their descriptions")
    listing.add_argument("folder", nargs="?", default="scenarios")
    listing.add_argument(
        "--workloads", action="store_true", help="list the workloads instead: built-in and installed plugins"
    )

    reporting = commands.add_parser(
        "report", help="RUN/report.html: interactive charts (and RUN/charts/*.png); several runs: a comparison"
    )
    reporting.add_argument(
        "runs", nargs="+", metavar="RUN", help="run folders; with several, the first is the baseline"
    )
    reporting.add_argument("-o", "--output", help="the HTML file (default RUN/report.html, RUN_A/compare.html)")
    reporting.add_argument(
        "--force", action="store_true", help="replace an existing file at -o that is not a report loadgen wrote"
    )
    reporting.add_argument("--no-png", action="store_true", help="skip RUN/charts/*.png (matplotlib: seconds)")

    commands.add_parser("schema", help="print the JSON Schema of scenario files (for editor autocompletion)")

    comparing = commands.add_parser("compare", help="compare runs: each metric per phase and the %% change")
    comparing.add_argument(
        "runs", nargs="+", metavar="RUN", help="run folders, the first is the baseline; or one run of a matrix"
    )
    comparing.add_argument("--format", choices=("table", "markdown", "csv"), default="table")
    comparing.add_argument(
        "--judge-resources", action="store_true", help="call CPU, memory and parallelism better or worse too"
    )

    hyperd = commands.add_parser("hyperd", help="hyperd versions in loadgen's cache (server.hyperd.version)")
    actions = hyperd.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="the cached versions: version, size, path")
    fetching = actions.add_parser("fetch", help="fetch versions into the cache ahead of a run (e.g. for CI)")
    fetching.add_argument("versions", nargs="+", metavar="VERSION", help="tableauhyperapi versions, e.g. 0.0.24457")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    # a log file or CI gets the full-width table instead of rich's 80-column default, unless COLUMNS says otherwise
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit() else 200
    # no rich markup anywhere: what loadgen prints holds paths, names and messages, in which [/] or [wip] are text
    console = Console(highlight=False, markup=False, soft_wrap=True, width=width)
    errors = Console(stderr=True, highlight=False, markup=False, soft_wrap=True, width=width)
    try:
        return COMMANDS[args.command](args, console, errors, argv)
    except ScenarioError as exc:
        for problem in exc.problems:
            say(errors, f"error: {problem}")
        return exc.exit_code
    except LoadgenError as exc:
        say(errors, f"error: {exc}")
        return exc.exit_code


def cmd_run(args, console: Console, errors: Console, argv) -> int:
    from loadgen.engine.run import run  # tableauhyperapi, psutil, …: only `run` starts anything

    overrides = list(args.overrides)
    if args.results_dir:
        overrides.append(f"output.dir={args.results_dir}")
    notices: list[str] = []
    base, plan = load_plan(args.scenario, overrides, notices)
    for notice in notices:
        say(errors, f"warning: {notice}")
    return run(plan, console, errors, ["loadgen", *argv], quiet=args.quiet, base=base, wide=args.wide)


def cmd_validate(args, console: Console, errors: Console, _argv) -> int:
    problems = []
    for path in args.scenarios:
        notices: list[str] = []
        try:
            scenario, plan = load_plan(path, args.overrides, notices)
        except ScenarioError as exc:
            problems.extend(exc.problems)
            continue
        finally:
            for notice in notices:
                say(errors, f"warning: {notice}")
        points = f", {counted(len(plan), 'matrix point')}" if scenario.matrix else ""
        shape = f"{counted(len(scenario.phases), 'phase')}, {counted(scenario.workers, 'worker')}{points}"
        say(console, f"ok: {path} ({scenario.name}: {shape})")
    if problems:
        raise ScenarioError(problems)
    return EXIT_OK


def cmd_list(args, console: Console, _errors: Console, _argv) -> int:
    if args.workloads:
        return list_workloads(console)
    folder = Path(args.folder)
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        raise ScenarioError(f"{folder}: no scenario files (*.yaml) here")
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            description = " ".join(str(data.get("description", "")).split())
        except (yaml.YAMLError, OSError, AttributeError):
            description = "(cannot read; run `loadgen validate` on it)"
        # its first sentence, wrapped to the terminal under the name: `loadgen validate`/the file say the rest
        first = re.split(r"(?<=[.?!])\s", description, maxsplit=1)[0]
        lines = textwrap.wrap(first, max(console.width - 25, 30)) or [""]
        say(console, f"{path.stem:24} {lines[0]}")
        for line in lines[1:]:
            say(console, f"{'':24} {line}")
    return EXIT_OK


def list_workloads(console: Console) -> int:
    """Every `workload:` value with where it comes from and its keys; a plugin's keys are its class's options."""
    common = set(PhaseOptions.model_fields)
    for name, entry in registry.entries().items():
        say(console, f"{name:16} {entry.origin}")
        fields = {k: f for k, f in entry.options.model_fields.items() if k not in common | {"workload"}}
        if entry.origin.startswith("plugin"):
            try:
                fields = entry.options.model_validate({"name": "x", "workload": name}).user_class().Options.model_fields
            except LoadProblem as problem:
                say(console, f"{'':16}   cannot load: {problem}")
                fields = {}
            fields = {f"options.{k}": f for k, f in fields.items()}
        for key, info in fields.items():
            default = "required" if info.is_required() else f"default {info.get_default(call_default_factory=True)!r}"
            say(console, f"{'':16}   {key}: {info.description or ''} ({default})")
    for refused in registry.refused_plugins:
        say(console, f"not used: {refused}")
    return EXIT_OK


def cmd_schema(_args, console: Console, _errors: Console, _argv) -> int:
    console.file.write(json.dumps(scenario_model().model_json_schema(), indent=2) + "\n")
    return EXIT_OK


def cmd_compare(args, console: Console, _errors: Console, _argv) -> int:
    from loadgen.report import compare as compare_text  # numpy (the bootstrap): for compare only
    from loadgen.results import compare

    comparison = compare.compare(args.runs, judge_resources=args.judge_resources)
    if args.format == "markdown":  # phase labels hold matrix values: control characters escaped, as on a table
        console.file.write(clean(compare_text.render_markdown(comparison)))
    elif args.format == "csv":
        console.file.write(clean(compare_text.render_csv(comparison)))
    else:
        for part in compare_text.render_table(comparison):
            console.print(part)
    return EXIT_OK


def cmd_report(args, console: Console, _errors: Console, _argv) -> int:
    from loadgen.report.html import write_report  # numpy (compare), plotly's assets: for report only

    say(console, f"report: {write_report(args.runs, args.output, png=not args.no_png, force=args.force)}")
    return EXIT_OK


def cmd_hyperd(args, console: Console, _errors: Console, _argv) -> int:
    from loadgen.engine import hyperd_cache

    return hyperd_cache.command(args.action, getattr(args, "versions", []), console)


COMMANDS = {
    "hyperd": cmd_hyperd,
    "report": cmd_report,
    "run": cmd_run,
    "validate": cmd_validate,
    "list": cmd_list,
    "schema": cmd_schema,
    "compare": cmd_compare,
}

if __name__ == "__main__":
    sys.exit(main())

"""``imageforge analyze``: layers, wasted space, efficiency, file trees, a CI gate (dive)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from imageforge.analyze import (
    Analysis,
    Change,
    Measure,
    RuleResult,
    RuleStatus,
    Thresholds,
    TreeNode,
    analyze,
    evaluate,
    file_tree,
    format_size,
    load_dive_ci,
    resolve_rules,
    thresholds_from_policy,
)
from imageforge.cli._app import app
from imageforge.cli._exit import EXIT_FINDINGS, EXIT_OK
from imageforge.cli._options import GlobalOptions, authfile_option, platform_option, tls_option
from imageforge.cli._progress import ProgressMode, progress_option
from imageforge.cli._render import print_json, stdout_console
from imageforge.cli._session import session
from imageforge.layers import EntryType
from imageforge.oci import Platform
from imageforge.pipeline import open_image
from imageforge.policy import Policy, find_policy, load_policy

_STYLES = {
    Change.ADDED: "green",
    Change.MODIFIED: "yellow",
    Change.REMOVED: "red strike",
    Change.UNCHANGED: "",
}
_MARKS = {Change.ADDED: "A", Change.MODIFIED: "M", Change.REMOVED: "D", Change.UNCHANGED: " "}


def _pct(x: float) -> str:
    return f"{x * 100:.2f} %"


def _layer_label(index: int, analysis: Analysis) -> str:
    step = analysis.layers[index].created_by
    return f"{index + 1}: {step[:60]}{'…' if len(step) > 60 else ''}"


def _print_summary(analysis: Analysis, name: str, top: int) -> None:
    console = stdout_console()
    console.print(f"image:  {name}", markup=False)
    console.print(f"digest: {analysis.digest}", markup=False)
    console.print(
        f"size:   {format_size(analysis.image_size)} "
        f"({format_size(analysis.user_size)} above the first layer)",
        markup=False,
    )
    layers = Table(title="layers", title_justify="left", box=None, pad_edge=False)
    for col in ("#", "SIZE", "ADDED", "MODIFIED", "REMOVED", "WASTED LATER", "CREATED BY"):
        layers.add_column(col, justify="right" if col not in ("CREATED BY",) else "left")
    for r in analysis.layers:
        layers.add_row(
            str(r.index + 1),
            format_size(r.size),
            str(r.added),
            str(r.modified),
            str(r.removed),
            format_size(r.wasted_bytes) if r.wasted_bytes else "",
            Text(r.created_by),
        )
    console.print(layers)
    numbers = Table(title="efficiency", title_justify="left", box=None, pad_edge=False)
    for col in ("MEASURE", "EFFICIENCY", "WASTED", "USER WASTED"):
        numbers.add_column(col, justify="left" if col == "MEASURE" else "right")
    dive, own = analysis.dive, analysis.waste
    numbers.add_row(
        "dive",
        _pct(dive.efficiency),
        format_size(dive.wasted_bytes),
        _pct(dive.user_wasted_percent),
    )
    numbers.add_row(
        "imageforge",
        _pct(own.efficiency),
        format_size(own.wasted_bytes),
        _pct(own.user_wasted_percent),
    )
    console.print(numbers)
    for note in dive.notes:
        console.print(f"note: {note}", markup=False)
    if own.by_step:
        steps = Table(
            title="wasted space by step (imageforge)",
            title_justify="left",
            box=None,
            pad_edge=False,
        )
        for col in ("WASTED", "FILES", "WRITTEN BY", "HIDDEN BY"):
            steps.add_column(col, justify="right" if col in ("WASTED", "FILES") else "left")
        for s in own.by_step[:top]:
            steps.add_row(
                format_size(s.bytes),
                str(s.files),
                Text(_layer_label(s.created_in, analysis)),
                Text(_layer_label(s.hidden_in, analysis)),
            )
        console.print(steps)
    if dive.inefficiencies:
        ineff = Table(
            title="paths in more than one layer (dive)",
            title_justify="left",
            box=None,
            pad_edge=False,
        )
        for col in ("COUNT", "TOTAL SPACE", "PATH"):
            ineff.add_column(col, justify="left" if col == "PATH" else "right")
        for d in dive.inefficiencies[:top]:
            ineff.add_row(str(d.count), format_size(d.cumulative), Text("/" + d.path))
        console.print(ineff)
    for title, rows in (
        ("biggest files", analysis.biggest_files),
        ("biggest directories", analysis.biggest_directories),
    ):
        if not rows:
            continue
        table = Table(title=title, title_justify="left", box=None, pad_edge=False)
        table.add_column("SIZE", justify="right")
        table.add_column("LAYER", justify="right")
        table.add_column("PATH")
        for b in rows[:top]:
            table.add_row(
                format_size(b.size),
                "" if b.layer is None else str(b.layer + 1),
                Text("/" + b.path),
            )
        console.print(table)


def _tree_json(node: TreeNode) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": node.name,
        "path": node.path,
        "type": node.type.value,
        "change": node.change.value,
        "size": node.size,
        "layer": None if node.layer is None else node.layer + 1,
    }
    if node.linkname:
        out["linkname"] = node.linkname
    if node.children:
        out["children"] = [_tree_json(c) for c in node.sorted_children()]
    return out


def _tree_label(node: TreeNode) -> str:
    suffix = "/" if node.type is EntryType.DIR else ""
    link = f" -> {node.linkname}" if node.linkname else ""
    return f"{node.name}{suffix}{link}  {format_size(node.size)}"


def _print_tree(root: TreeNode, title: str) -> None:
    if sys.stdout.isatty():
        tree = Tree(Text(title, style="bold"))

        def add(parent: Tree, node: TreeNode) -> None:
            for child in node.sorted_children():
                branch = parent.add(Text(_tree_label(child), style=_STYLES[child.change]))
                add(branch, child)

        add(tree, root)
        stdout_console().print(tree)
        return
    lines = [title]
    for depth, node in root.walk():
        lines.append(f"{_MARKS[node.change]} {'  ' * depth}{_tree_label(node)}")
    sys.stdout.write("\n".join(lines) + "\n")


def _print_ci(results: list[RuleResult], measure: Measure) -> None:
    console = stdout_console()
    console.print(f"CI rules (on {measure.value}'s numbers):", markup=False)
    for r in results:
        if r.status is RuleStatus.PASS:
            console.print(f"  PASS: {r.rule}", markup=False)
        elif r.status is RuleStatus.DISABLED:
            console.print(f"  SKIP: {r.rule}: rule disabled", markup=False)
        else:
            console.print(f"  FAIL: {r.rule}: {r.message} [{r.source}]", markup=False)
    failed = sum(1 for r in results if r.status is RuleStatus.FAIL)
    passed = sum(1 for r in results if r.status is RuleStatus.PASS)
    skipped = sum(1 for r in results if r.status is RuleStatus.DISABLED)
    verdict = "FAIL" if failed else "PASS"
    console.print(
        f"Result:{verdict} [Total:{len(results)}] [Passed:{passed}] [Failed:{failed}] "
        f"[Skipped:{skipped}]",
        markup=False,
    )


@app.command("analyze")
@click.argument("image")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text (tables) for people, json for machines (sizes in bytes, layers from 1).",
)
@click.option("--tree", is_flag=True, help="Show a file tree instead of the summary.")
@click.option(
    "--layer",
    type=click.IntRange(min=1),
    metavar="N",
    help="With --tree: layer N's own changes (from 1) instead of the merged image.",
)
@click.option(
    "--ci", is_flag=True, help="Judge the image by the thresholds below; exit 1 if one fails."
)
@click.option(
    "--lowest-efficiency",
    metavar="RATIO",
    help="Fail when efficiency is below this (0-1, or 'disabled'; dive's default 0.9).",
)
@click.option(
    "--highest-wasted-bytes",
    metavar="SIZE",
    help="Fail when more bytes are wasted (20MB, 20MiB, 1.5GB, bytes, or 'disabled'; "
    "dive's default: disabled).",
)
@click.option(
    "--highest-user-wasted-percent",
    metavar="RATIO",
    help="Fail when wasted / bytes above the first layer exceeds this (0-1, or "
    "'disabled'; dive's default 0.1).",
)
@click.option(
    "--measure",
    type=click.Choice([m.value for m in Measure]),
    default=Measure.DIVE.value,
    show_default=True,
    help="Whose numbers the thresholds judge: dive's (as dive --ci would) or imageforge's "
    "(only bytes unreachable in the final filesystem count as waste).",
)
@click.option(
    "--ci-config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="dive's YAML rules file (default: .dive-ci in the current directory, if any).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="imageforge.toml or pyproject.toml to read [analyze] from (default: the nearest "
    "above the current directory).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Rows per table (json: entries per list, x2).",
)
@platform_option
@tls_option
@authfile_option
@progress_option
@click.pass_obj
def analyze_command(
    opts: GlobalOptions,
    image: str,
    fmt: str,
    tree: bool,
    layer: int | None,
    ci: bool,
    lowest_efficiency: str | None,
    highest_wasted_bytes: str | None,
    highest_user_wasted_percent: str | None,
    measure: str,
    ci_config: Path | None,
    config: Path | None,
    top: int,
    platform: str | None,
    tls_verify: bool,
    authfile: Path | None,
    progress: ProgressMode,
) -> int:
    """Show what each layer of IMAGE adds, what is wasted and which step wasted it.

    IMAGE is a name or ID in the store, or oci:DIR[:TAG], oci-archive:FILE[:TAG],
    docker-archive:FILE[:NAME], rootfs:DIR|TAR, docker://REF (an index's image for
    --platform, default this machine's). Two sets of numbers:
    dive's (computed as dive computes them, quirks included) and imageforge's (only
    bytes unreachable in the final filesystem are waste, each attributed to the step
    that wrote it and the one that hid it).

    With --ci, each threshold is taken from the first place that sets it: the command
    line, then [analyze] in imageforge.toml (lowest-efficiency, highest-wasted-bytes,
    highest-user-wasted-percent), then .dive-ci (rules: lowestEfficiency,
    highestWastedBytes, highestUserWastedPercent), then dive's defaults. Exit 1 when a
    threshold fails, 0 when all pass.
    """
    if layer is not None and not tree:
        raise click.UsageError("--layer needs --tree")
    rules = []
    if ci:
        policy_file = config or find_policy(Path.cwd())
        policy = load_policy(policy_file) if policy_file else Policy()
        dive_ci = ci_config or (Path(".dive-ci") if Path(".dive-ci").is_file() else None)
        sources = [
            Thresholds.of(
                "command line",
                lowestEfficiency=lowest_efficiency,
                highestWastedBytes=highest_wasted_bytes,
                highestUserWastedPercent=highest_user_wasted_percent,
            ),
            thresholds_from_policy(policy.analyze, policy.source),
        ]
        if dive_ci is not None:
            sources.append(load_dive_ci(dive_ci))
        rules = resolve_rules(*sources)  # a bad threshold fails before reading layers
    elif lowest_efficiency or highest_wasted_bytes or highest_user_wasted_percent:
        raise click.UsageError("thresholds need --ci")
    with (
        session(opts, progress, tls_verify=tls_verify, authfile=authfile) as s,
        open_image(s, image, Platform.parse(platform) if platform else None) as found,
    ):
        name = found.name
        result = analyze(found.image, progress=s.progress, top=max(top * 2, 20))
    if tree:
        root = file_tree(result, None if layer is None else layer - 1)
        if fmt == "json":
            print_json({"digest": result.digest, "layer": layer, "tree": _tree_json(root)})
        else:
            title = (
                f"{name}: merged image"
                if layer is None
                else f"{name}: layer {_layer_label(layer - 1, result)}"
            )
            _print_tree(root, title)
        return EXIT_OK
    results = evaluate(result, rules, measure=Measure(measure)) if ci else []
    if fmt == "json":
        doc: dict[str, Any] = {"image": name, **result.to_json(limit=max(top * 2, 20))}
        if ci:
            doc["ci"] = {
                "measure": measure,
                "passed": all(r.status is not RuleStatus.FAIL for r in results),
                "rules": [r.to_json() for r in results],
            }
        print_json(doc)
    else:
        _print_summary(result, name, top)
        if ci:
            _print_ci(results, Measure(measure))
    failed = any(r.status is RuleStatus.FAIL for r in results)
    return EXIT_FINDINGS if failed else EXIT_OK

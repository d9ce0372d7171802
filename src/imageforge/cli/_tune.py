"""``imageforge tune``: measure an image under a load and recommend Kubernetes
requests and limits (the library is ``imageforge.tune``)."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path

import click

from imageforge.cli._app import app
from imageforge.cli._exit import EXIT_FINDINGS
from imageforge.cli._options import GlobalOptions, platform_option
from imageforge.cli._render import print_json
from imageforge.errors import InvalidArgument, StepFailed
from imageforge.oci import parse_duration
from imageforge.pipeline import FromResolver, Session
from imageforge.runtime import parse_publish
from imageforge.store import Store
from imageforge.tune import (
    STRATEGIES,
    CommandLoad,
    HttpLoad,
    MeasureOptions,
    patch_manifest,
    render_text,
    resources_yaml,
    tune,
    verify,
    write_plot,
)

__all__ = ["tune_command"]


def _seconds(text: str, option: str) -> float:
    if text.strip() in ("0", "0s"):
        return 0.0
    return parse_duration(text, option)


@app.command("tune")
@click.option(
    "--load",
    "load_cmd",
    metavar="CMD",
    help="A load command run on this host "
    "(split as a shell would); IMAGEFORGE_TUNE_HOST, _PORT, _URL and _SECONDS "
    "tell it where the container listens and for how long.",
)
@click.option(
    "--load-http",
    metavar="URL",
    help="The built-in HTTP load generator: GET URL "
    "(or a path on the first published port, e.g. /).",
)
@click.option(
    "--rps",
    type=float,
    default=50.0,
    show_default=True,
    help="--load-http: requests started per second.",
)
@click.option(
    "--concurrency",
    type=int,
    default=8,
    show_default=True,
    help="--load-http: most requests in flight.",
)
@click.option("--duration", default="30s", show_default=True, help="Measured time (after warm-up).")
@click.option("--warmup", default="5s", show_default=True, help="Load before measuring starts.")
@click.option(
    "--runs",
    type=int,
    default=1,
    show_default=True,
    help="Measure this many times, a fresh container each.",
)
@click.option(
    "-p",
    "--publish",
    "publish",
    multiple=True,
    metavar="[IP:]HOST:CONTAINER",
    help="Forward a host port to the container; repeatable.",
)
@click.option(
    "--interval", type=float, default=0.2, show_default=True, help="Seconds between cgroup samples."
)
@click.option(
    "--ready-timeout",
    default="60s",
    show_default=True,
    help="How long the service may take to answer.",
)
@click.option(
    "--strategy",
    type=click.Choice(list(STRATEGIES)),
    default="krr-simple",
    show_default=True,
    help="The strategy whose resources are printed and applied.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: the report on stderr and the resources block (YAML) on stdout; json: "
    "everything on stdout.",
)
@click.option(
    "--patch",
    "patch",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Set the resources in this Deployment/Pod manifest (validated).",
)
@click.option("--container", metavar="NAME", help="--patch: the container (default the first).")
@click.option(
    "--plot",
    "plots",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FILE.png|FILE.svg",
    help="Plot CPU and memory over time; repeatable.",
)
@click.option(
    "--verify",
    "do_verify",
    is_flag=True,
    help="Run the load again under the recommended limits and check them.",
)
@click.option(
    "--max-throttling",
    type=float,
    default=0.1,
    show_default=True,
    help="--verify: the most CPU periods that may be throttled.",
)
@click.option(
    "--tolerance",
    type=float,
    default=0.2,
    show_default=True,
    help="--verify: how much worse latency/throughput may be under the limits.",
)
@platform_option
@click.argument("image")
@click.pass_obj
def tune_command(
    opts: GlobalOptions,
    /,
    load_cmd: str | None,
    load_http: str | None,
    rps: float,
    concurrency: int,
    duration: str,
    warmup: str,
    runs: int,
    publish: tuple[str, ...],
    interval: float,
    ready_timeout: str,
    strategy: str,
    fmt: str,
    patch: Path | None,
    container: str | None,
    plots: tuple[Path, ...],
    do_verify: bool,
    max_throttling: float,
    tolerance: float,
    platform: str | None,
    image: str,
) -> None:
    """Run IMAGE under a load, sample its cgroup several times a second and recommend
    Kubernetes requests and limits by named strategies (KRR's simple, VPA's
    recommender); see docs/tune.md. The container is always stopped and removed."""
    ports = [parse_publish(p) for p in publish]
    if (load_cmd is None) == (load_http is None):
        raise InvalidArgument("give one of --load CMD or --load-http URL")
    load: CommandLoad | HttpLoad
    if load_http is not None:
        if load_http.startswith("/"):
            if not ports:
                raise InvalidArgument(
                    f"--load-http {load_http}: a path needs a published port (-p HOST:CONTAINER)"
                )
            load_http = f"http://127.0.0.1:{ports[0].host_port}{load_http}"
        load = HttpLoad(load_http, rps, concurrency)
    else:
        assert load_cmd is not None
        load = CommandLoad(shlex.split(load_cmd))
    for plot in plots:
        if plot.suffix.lower() not in (".png", ".svg"):
            raise InvalidArgument(f"--plot {plot}: give a .png or .svg file")
    options = MeasureOptions(
        load=load,
        duration=_seconds(duration, "--duration"),
        warmup=_seconds(warmup, "--warmup"),
        publish=ports,
        interval=interval,
        ready_timeout=_seconds(ready_timeout, "--ready-timeout"),
    )
    store = Store(opts.root)
    try:
        with store.writing(), Session(store) as images:
            found = FromResolver(images)(image, platform)
            report = tune(store, found, options, name=image, runs=runs, chosen=strategy)
            if do_verify:
                checked = verify(
                    store,
                    found,
                    options,
                    report,
                    max_throttling=max_throttling,
                    tolerance=tolerance,
                )
                report = dataclasses.replace(report, verification=checked)
    except StepFailed as exc:  # the container's or the load command's last lines first
        for line in exc.output:
            click.echo(f"| {line}", err=True)
        raise
    resources = report.recommendation.resources()
    if patch is not None:
        name = patch_manifest(patch, resources, container)
        click.echo(f"patched container {name!r} in {patch}", err=True)
    for plot in plots:
        write_plot(report, plot)
        click.echo(f"plot written to {plot}", err=True)
    if fmt == "json":
        print_json(report.to_json())
    else:
        click.echo(render_text(report), err=True, nl=False)
        click.echo(resources_yaml(resources), nl=False)
    if report.verification is not None and not report.verification.ok:
        click.echo("error: the recommended limits did not pass --verify", err=True)
        sys.exit(EXIT_FINDINGS)

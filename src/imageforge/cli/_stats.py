"""``imageforge stats builds``: the builds this store recorded -- how many, how many
failed and why (the failure rate per cause, per day), how long they took and how much
came from the cache."""

from __future__ import annotations

import click

from imageforge.cli._app import app
from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._render import print_json
from imageforge.pipeline._build_stats import build_stats


@app.group("stats")
def stats_app() -> None:
    """What the store recorded, summed up."""


@stats_app.command("builds")
@click.option(
    "--days",
    type=click.IntRange(1, 36500),
    default=None,
    help="Only the builds of the last N days (default: all).",
)
@format_option
@click.pass_obj
def stats_builds(opts: GlobalOptions, days: int | None, fmt: OutputFormat) -> None:
    """Builds of this store: counts, failure rate (overall, per cause, per day), durations
    (mean, median, 90th percentile, longest) and the share of steps taken from the cache.
    The guide's target is a failure rate under 5%."""
    stats = build_stats(opts.root, days=days)
    if fmt is OutputFormat.JSON:
        print_json(stats.to_json())
        return
    if not stats.builds:
        click.echo("no builds recorded yet")
        return
    d = stats.durations
    click.echo(
        f"builds: {stats.builds}  succeeded: {stats.succeeded}  failed: {stats.failed}"
        f"  failure rate: {stats.failure_rate:.1%}"
    )
    click.echo(
        f"duration: mean {d['mean']:.1f}s  median {d['median']:.1f}s  p90 {d['p90']:.1f}s"
        f"  longest {d['max']:.1f}s"
    )
    click.echo(f"cache hit ratio: {stats.cache_hit_ratio:.1%} of {stats.steps} steps")
    if stats.causes:
        click.echo("failures by cause:")
        for cause, n in stats.causes.items():
            click.echo(f"  {cause:<24} {n:>5}  {n / stats.builds:.1%} of builds")
    click.echo("per day:")
    click.echo(f"  {'DAY':<10} {'BUILDS':>6} {'FAILED':>6} {'RATE':>6}")
    for day in stats.days:
        click.echo(
            f"  {day['day']:<10} {day['builds']:>6} {day['failed']:>6} {day['failureRate']:>6.1%}"
        )


__all__ = ["stats_app"]

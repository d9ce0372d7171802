"""``imageforge build`` and ``imageforge run``: daemonless builds and one-off containers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path, PurePosixPath
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any

import click

from imageforge.builder import ENTITLEMENTS, ISOLATIONS, BuildOptions, context_from_stream
from imageforge.cli._app import app
from imageforge.cli._build_signing import build_signing_options
from imageforge.cli._limits import build_limit_options, limits_from, run_limit_options
from imageforge.cli._options import (
    GlobalOptions,
    OutputFormat,
    authfile_option,
    format_option,
    platform_option,
    tls_option,
)
from imageforge.cli._progress import ProgressMode, progress_option
from imageforge.cli._render import print_json
from imageforge.cli._session import session
from imageforge.errors import InvalidArgument
from imageforge.pipeline import (
    FromResolver,
    Session,
    location_text,
    parse_cache_location,
)
from imageforge.runtime import (
    NETWORK_MODES,
    ContainerOptions,
    ImageCommand,
    StdIO,
    parse_publish,
    parse_security_options,
    parse_tmpfs,
    run_image,
)

if TYPE_CHECKING:
    from imageforge.pipeline import Attest
from imageforge.store import Store


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not key:
            raise InvalidArgument(f"{what} {value!r}: expected KEY=VALUE")
        if not sep:
            val = os.environ.get(key, "")
        out[key] = val
    return out


def _secrets(values: tuple[str, ...]) -> dict[str, bytes]:
    """``--secret id=ID,src=FILE`` / ``id=ID,env=NAME`` (Docker's spelling)."""
    out: dict[str, bytes] = {}
    for value in values:
        fields = dict(part.partition("=")[::2] for part in value.split(","))
        secret_id = fields.get("id", "")
        if not secret_id:
            raise InvalidArgument(f"--secret {value!r}: needs id=ID")
        if "src" in fields or "source" in fields:
            path = Path(fields.get("src") or fields["source"])
            try:
                out[secret_id] = path.read_bytes()
            except OSError as exc:
                raise InvalidArgument(
                    f"--secret {secret_id}: cannot read {path}: {exc.strerror}"
                ) from None
        elif "env" in fields:
            if fields["env"] not in os.environ:
                raise InvalidArgument(f"--secret {secret_id}: ${fields['env']} is not set")
            out[secret_id] = os.environ[fields["env"]].encode()
        else:
            raise InvalidArgument(f"--secret {value!r}: needs src=FILE or env=NAME")
    return out


def _security_opt_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--security-opt",
        "security_opts",
        multiple=True,
        metavar="OPT",
        help="seccomp=unconfined (no seccomp filter), seccomp=FILE (a profile in Docker's "
        "format instead of the default), no-new-privileges (accepted: every container "
        "imageforge starts has it, so setuid programs gain nothing).",
    )(f)


def _stdin_context(
    stack: ExitStack, dockerfile: Path | None, from_stdin: bool
) -> tuple[Path, Path | None, str | None]:
    """``build -``: the context (a tar, unpacked into a private temporary directory that
    ``stack`` removes) or the Dockerfile alone, read from stdin as Docker reads it; the
    context, the Dockerfile's path in it and the Dockerfile's text."""
    if from_stdin:
        raise InvalidArgument("CONTEXT - and -f - both read stdin", hint="give one a file")
    directory = Path(stack.enter_context(TemporaryDirectory(prefix="imageforge-context-")))
    text = context_from_stream(sys.stdin.buffer, directory)
    if text is not None:
        if dockerfile is not None:
            raise InvalidArgument(
                f"-f {dockerfile}: stdin holds a Dockerfile, not a context archive",
                hint="-f names a file inside a tar given on stdin; leave it out here",
            )
        return directory, None, text
    if dockerfile is None:
        return directory, None, None
    inside = PurePosixPath(str(dockerfile))
    if inside.is_absolute() or ".." in inside.parts:
        raise InvalidArgument(
            f"-f {dockerfile}: with a context on stdin, -f names a file inside the archive",
            hint="give its path relative to the archive's root",
        )
    return directory, directory / inside, None


@app.command("build")
@click.argument(
    "context", default=".", type=click.Path(file_okay=False, allow_dash=True, path_type=Path)
)
@click.option(
    "-f",
    "--file",
    "dockerfile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The Dockerfile (default: CONTEXT/Dockerfile; - reads it from stdin).",
)
@click.option("-t", "--tag", "tags", multiple=True, help="NAME[:TAG] for the result; repeatable.")
@click.option(
    "--build-arg",
    "build_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="A build argument (KEY alone takes it from the environment).",
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="id=ID,src=FILE|env=NAME",
    help="A secret for RUN --mount=type=secret (never stored in the image).",
)
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="A label to add.")
@click.option("--no-cache", is_flag=True, help="Run every step again.")
@click.option(
    "--cache-from",
    "cache_from",
    multiple=True,
    metavar="oci:DIR|docker://REF",
    help="Import a build cache exported by --cache-to (CI runners that start empty); "
    "one not in the registry yet is skipped with a note.",
)
@click.option(
    "--cache-to",
    "cache_to",
    metavar="oci:DIR|docker://REF",
    help="Export this build's cache (step records and their layers) as an OCI layout, or "
    "push it to a registry (tag build-cache unless REF names one).",
)
@click.option(
    "--target",
    default=None,
    help="Build up to this stage (its AS name or number); stages it does not need are not run.",
)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="OS/ARCH[/VARIANT],...",
    help="Build for these platforms (linux/arm64; several make one image each and an OCI "
    "index of them under the one name). RUN steps for a foreign architecture run through "
    "qemu-user (binfmt_misc).",
)
@click.option(
    "--network",
    type=click.Choice(NETWORK_MODES),
    default="private",
    show_default=True,
    help="The network RUN steps get: private (a namespace of their own, outbound access "
    "through slirp4netns), none, or host (the host's, its 127.0.0.1 services included).",
)
@click.option(
    "--allow",
    "allow",
    multiple=True,
    type=click.Choice(ENTITLEMENTS),
    help="Let the Dockerfile use an entitlement: network.host for RUN --network=host.",
)
@_security_opt_option
@build_limit_options
@click.option(
    "--isolation",
    type=click.Choice(ISOLATIONS),
    default="oci",
    show_default=True,
    help="oci: each RUN in runc over an overlay snapshot. none (Kaniko's way, for "
    "unprivileged CI containers): one plain root directory, each RUN chrooted into it, "
    "changes found by comparing snapshots; needs uid 0 but no added capabilities; "
    "one build per container.",
)
@click.option(
    "--ignore-path",
    "ignore_paths",
    multiple=True,
    metavar="PATH",
    help="With --isolation none: a path in the image never compared (not in any layer); "
    "repeatable.",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="DEST",
    help="Also write the image to oci:DIR[:TAG], oci-archive:FILE, "
    "docker-archive:FILE[:NAME] or docker://REF (a push); repeatable.",
)
@build_signing_options
@tls_option
@authfile_option
@progress_option
@format_option
@click.pass_obj
def build_command(
    opts: GlobalOptions,
    /,
    context: Path,
    dockerfile: Path | None,
    tags: tuple[str, ...],
    build_args: tuple[str, ...],
    secrets: tuple[str, ...],
    labels: tuple[str, ...],
    no_cache: bool,
    cache_from: tuple[str, ...],
    cache_to: str | None,
    target: str | None,
    platforms: tuple[str, ...],
    network: str,
    allow: tuple[str, ...],
    security_opts: tuple[str, ...],
    isolation: str,
    ignore_paths: tuple[str, ...],
    outputs: tuple[str, ...],
    attest: Attest | None,
    tls_verify: bool,
    authfile: Path | None,
    progress: ProgressMode,
    fmt: OutputFormat,
    **limits: Any,
) -> None:
    """Build an image from a Dockerfile, with no daemon: each RUN runs in runc/crun
    over an overlay snapshot (within --memory, --cpus, --pids-limit when given). Prints
    the image digest; nothing is tagged if a step fails. --provenance, --sbom and --sign
    attach signed SLSA provenance, an SPDX SBOM and a signature to every docker:// output."""
    if not tags and not outputs:
        raise InvalidArgument(
            "nothing would name the result", hint="give -t NAME[:TAG] and/or --output DEST"
        )
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    from_stdin = dockerfile is not None and str(dockerfile) == "-"
    dockerfile_text = sys.stdin.read() if from_stdin else None
    with ExitStack() as stack:
        if str(context) == "-":  # docker build - < context.tar (or < Dockerfile)
            context, dockerfile, dockerfile_text = _stdin_context(stack, dockerfile, from_stdin)
        options = BuildOptions(
            context=context,
            dockerfile=None if from_stdin else dockerfile,
            dockerfile_text=dockerfile_text,
            build_args=_pairs(build_args, "--build-arg"),
            labels=_pairs(labels, "--label"),
            secrets=_secrets(secrets),
            no_cache=no_cache,
            network=network,
            allow=frozenset(allow),
            security=parse_security_options(security_opts),
            limits=limits_from(limits),
            target=target,
            source_date_epoch=int(epoch) if epoch and epoch.isdigit() else None,
            isolation=isolation,
            ignore_paths=ignore_paths,
        )
        with session(opts, progress, tls_verify=tls_verify, authfile=authfile) as s:
            from imageforge.pipeline import signed_build  # signing only when asked for
            from imageforge.pipeline._build_history import recorded_build

            with recorded_build(
                opts.root, context, options.dockerfile, dockerfile_text, warn=_warn
            ) as record:
                built = signed_build(
                    s,
                    options,
                    attest,
                    tags=tags,
                    outputs=outputs,
                    cache_from=tuple(parse_cache_location(c, "--cache-from") for c in cache_from),
                    cache_to=parse_cache_location(cache_to, "--cache-to") if cache_to else None,
                    platforms=platforms,
                ).built
                steps = [st for _, each in built.platforms for st in each.steps]
                record.built(str(built.digest), steps or built.result.steps, built.names)
    result = built.result
    if fmt is OutputFormat.JSON:
        out: dict[str, object] = {
            "digest": str(built.digest),
            "config": str(result.image.manifest().config.digest),
            "tags": list(built.names),
            "outputs": [location_text(d) for d in built.outputs],
            "steps": [step.to_json() for step in result.steps],
            "warnings": list(result.warnings),
        }
        if built.index is not None:
            del out["config"]
            out["mediaType"] = built.index.media_type
            out["platforms"] = [
                {
                    "platform": target,
                    "digest": str(each.image.digest),
                    "config": str(each.image.manifest().config.digest),
                    "steps": [step.to_json() for step in each.steps],
                }
                for target, each in built.platforms
            ]
            del out["steps"]
        print_json(out)
    else:
        click.echo(str(built.digest))


@app.command("run", context_settings={"allow_interspersed_args": False})
@click.option(
    "--rm",
    is_flag=True,
    help="Accepted for docker compatibility: containers are always removed when they exit.",
)
@click.option(
    "--network",
    type=click.Choice(NETWORK_MODES),
    default="private",
    show_default=True,
    help="private (a namespace of its own, outbound access through slirp4netns), none, or host.",
)
@click.option(
    "-p",
    "--publish",
    "publish",
    multiple=True,
    metavar="[IP:]HOST:CONTAINER[/tcp|udp]",
    help="Forward a host port to the container (private network only); repeatable.",
)
@_security_opt_option
@run_limit_options
@click.option("-i", "--interactive", is_flag=True, help="Keep stdin attached.")
@click.option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE")
@click.option("-u", "--user", default=None, help="USER[:GROUP] or UID[:GID].")
@click.option("--hostname", default="imageforge", show_default=True)
@platform_option
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def run_command(
    opts: GlobalOptions,
    /,
    rm: bool,
    network: str,
    publish: tuple[str, ...],
    security_opts: tuple[str, ...],
    interactive: bool,
    env: tuple[str, ...],
    user: str | None,
    hostname: str,
    platform: str | None,
    image: str,
    command: tuple[str, ...],
    read_only: bool,
    tmpfs: tuple[str, ...],
    cap_add: tuple[str, ...],
    cap_drop: tuple[str, ...],
    **limits: Any,
) -> None:
    """Run COMMAND (default: the image's Entrypoint + Cmd) in a new container of IMAGE
    (an index's image for --platform; another architecture's through qemu-user), within
    Docker's resource limits when given. Prints only the container's output and exits
    with its exit code (137 when killed, with 'killed: out of memory' when the OOM killer
    did it)."""
    container = ContainerOptions(
        mounts=[parse_tmpfs(t) for t in tmpfs],
        network=network,
        hostname=hostname,
        publish=[parse_publish(p) for p in publish],
        security=parse_security_options(
            security_opts, cap_add=cap_add, cap_drop=cap_drop, read_only=read_only
        ),
        limits=limits_from(limits),
        io=StdIO(
            stdin=sys.stdin.fileno() if interactive else None,
            stdout=sys.stdout.fileno(),
            stderr=sys.stderr.fileno(),
        ),
    )
    what = ImageCommand(args=command, env=_pairs(env, "-e"), user=user)
    store = Store(opts.root)
    with store.writing(), Session(store) as images:
        found = FromResolver(images)(image, platform)
        sys.stdout.flush()  # the container writes to the same descriptors
        sys.stderr.flush()
        status = run_image(store, found, what, container)
    if status.runtime_error:
        click.echo(f"error: the container could not start: {status.runtime_error}", err=True)
        sys.exit(125 if status.code == 0 else status.code)
    killed = status.killed()
    if killed is not None:
        who = "error: the container was" if status.code == 137 else "note: a process in it was"
        click.echo(f"{who} {killed}", err=True)
    sys.exit(status.code)

"""Sections 1.2 and 4.1 of the guide: layer order and the build cache (IF2xx)."""

from __future__ import annotations

from collections.abc import Iterator

from imageforge.dockerfile import Add, Env, Instruction, Run, Stage
from imageforge.lint._facts import (
    all_instructions,
    broad_source,
    chain_instructions,
    context_copies,
    copied_names,
    has_cache_mount,
    installs,
    names_match,
    run_commands,
    runs,
)
from imageforge.lint._fixes import (
    fix_apt_lists,
    fix_copy_manifests_first,
    fix_no_install_recommends,
    fix_pip_no_cache,
)
from imageforge.lint._model import Hit, LintInput, Rule, hit
from imageforge.lint._shell import run_text
from imageforge.report import Severity

__all__ = ["CACHE_RULES"]

_OS_TOOLS = ("apt", "apk", "yum")
_MANIFEST_GLOBS = {
    "package.json": ("package.json",),
    "pyproject.toml": ("pyproject.toml",),
    "Pipfile": ("Pipfile",),
    "Gemfile": ("Gemfile",),
    "composer.json": ("composer.json",),
    "go.mod": ("go.mod",),
}


def _manifest_installs(run: Run) -> list[str]:
    return [m for i in installs(run) for m in i.manifests]


def _has_bind_mount(run: Run) -> bool:
    return any(m.type == "bind" for m in run.mounts)


def _tools_installed_before(stage: Stage, copy: Instruction) -> set[str]:
    """The package managers that installed from a manifest before ``copy`` in ``stage``:
    their dependency layer is already cached, so a later install after ``COPY . .`` is
    the project itself (``pip install .``, ``npm run build`` after ``npm ci``)."""
    tools: set[str] = set()
    for instr in stage.instructions:
        if instr is copy:
            break
        if isinstance(instr, Run):
            tools.update(i.tool for i in installs(instr) if i.manifests)
    return tools


def _copy_all_before_install(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            if not _manifest_installs(run) or _has_bind_mount(run):
                continue
            wanted = {i.tool for i in installs(run) if i.manifests}
            for c in context_copies(stage, run):
                if wanted <= _tools_installed_before(stage, c):
                    continue
                if any(broad_source(s) for s in c.sources):
                    yield hit(
                        c,
                        f"the whole context is copied before the install on line "
                        f"{run.location.start_line}",
                    )
                    break
            else:
                continue
            break  # one finding per stage


def _manifest_not_first(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            manifests = _manifest_installs(run)
            if not manifests or _has_bind_mount(run):
                continue
            names, broad = copied_names(stage, run)
            if broad or not names:
                continue  # IF201's case, or the manifest came from elsewhere
            wanted = [g for m in manifests for g in _MANIFEST_GLOBS.get(m, (m,))]
            if not names_match(names, wanted):
                # The line to change is the COPY that brought the manifest in with other
                # files (the last one from the context before the install), not the RUN.
                copies = list(context_copies(stage, run))
                yield hit(
                    copies[-1],
                    f"{', '.join(sorted(set(manifests)))} not copied on its own before the "
                    f"install on line {run.location.start_line}",
                )


def _code_before_system(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            if not any(i.tool in _OS_TOOLS for i in installs(run)):
                continue
            text = run_text(run)
            for c in context_copies(stage, run):
                if c.dest.startswith(("/etc/", "/usr/share/keyrings")):
                    continue
                used = [s for s in c.sources if s.rstrip("/").rsplit("/", 1)[-1] in text]
                if used and not any(broad_source(s) for s in c.sources):
                    continue
                yield hit(c, f"copied before the system packages of line {run.location.start_line}")
                break


def _apt_update_alone(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            cmds = run_commands(run)
            updates = [c for c in cmds if c.program in ("apt-get", "apt") and "update" in c.words]
            if not updates:
                continue
            if not any(i.tool == "apt" for i in installs(run)) and not any(
                c.program in ("apt-get", "apt")
                and ("upgrade" in c.words or "dist-upgrade" in c.words)
                for c in cmds
            ):
                yield hit(run, "apt-get update without apt-get install in the same RUN")


def _apt_runs(lint: LintInput) -> Iterator[tuple[Run, list[str]]]:
    for _stage, instr in chain_instructions(lint):
        if isinstance(instr, Run):
            apt = [i for i in installs(instr) if i.tool == "apt"]
            if apt:
                yield instr, [w for i in apt for w in i.command.words]


def _apt_lists(lint: LintInput) -> Iterator[Hit]:
    # Only what ships: the lists in a builder stage's layer never reach the image.
    for run, _words in _apt_runs(lint):
        if has_cache_mount(run, "/var/lib/apt", "/var/cache/apt"):
            continue
        text = run_text(run)
        # apt-get dist-clean (apt >= 2.7) removes the lists too.
        if "/var/lib/apt/lists" not in text and "dist-clean" not in text:
            yield hit(run, "apt-get install without rm -rf /var/lib/apt/lists/* in the same RUN")


def _recommends_off(words: tuple[str, ...]) -> bool:
    return "--no-install-recommends" in words or "Install-Recommends=" in " ".join(words)


def _no_recommends(lint: LintInput) -> Iterator[Hit]:
    for _stage, instr in all_instructions(lint):
        if not isinstance(instr, Run):
            continue
        # Each install on its own: a second apt-get install in the RUN (after adding
        # a repository, say) needs the flag as much as the first.
        if any(i.tool == "apt" and not _recommends_off(i.command.words) for i in installs(instr)):
            yield hit(instr, "apt-get install without --no-install-recommends")


def _pip_cache(lint: LintInput) -> Iterator[Hit]:
    env_off = False
    for _stage, instr in all_instructions(lint):
        if isinstance(instr, Env) and any(kv.key == "PIP_NO_CACHE_DIR" for kv in instr.pairs):
            env_off = True
        if not isinstance(instr, Run) or env_off:
            continue
        if has_cache_mount(instr, ".cache/pip", "/pip"):
            continue
        text = run_text(instr)
        for i in installs(instr):
            if i.tool == "pip" and not i.has("--no-cache-dir") and "PIP_NO_CACHE_DIR" not in text:
                yield hit(instr, "pip install without --no-cache-dir")
                break


def _apk_cache(lint: LintInput) -> Iterator[Hit]:
    for _stage, instr in all_instructions(lint):
        if not isinstance(instr, Run) or has_cache_mount(instr, "/var/cache/apk", "/etc/apk/cache"):
            continue
        text = run_text(instr)
        for i in installs(instr):
            if i.tool == "apk" and not i.has("--no-cache") and "/var/cache/apk" not in text:
                yield hit(instr, "apk add without --no-cache")
                break


def _consecutive(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        previous: set[str] = set()
        for instr in stage.instructions:
            if not isinstance(instr, Run):
                previous = set()
                continue
            tools = {i.tool for i in installs(instr) if i.tool in _OS_TOOLS}
            same = tools & previous
            if same:
                tool = sorted(same)[0]
                yield hit(instr, f"another RUN of {tool} right after the previous one")
            previous = tools


_ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst")


def _add_for_copy(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if not isinstance(instr, Add) or instr.heredocs:
                continue
            remote = any("://" in s or s.startswith("git@") for s in instr.sources)
            archive = any(s.lower().endswith(_ARCHIVES) or "$" in s for s in instr.sources)
            if not remote and not archive:
                yield hit(instr, "ADD of local files that are not an archive")


CACHE_RULES = (
    Rule(
        id="IF201",
        slug="copy-all-before-install",
        section="1.2, 4.1",
        severity=Severity.WARNING,
        title="The whole context is copied before a dependency install",
        message="COPY . invalidates the dependency install on every code change.",
        hint="Copy only the dependency manifests and lockfiles, install, then COPY . .",
        why="The build cache reuses a layer only while everything before it is unchanged. "
        "Copying the whole source tree before installing dependencies means every edit "
        "reinstalls every dependency; the guide orders layers system, runtime, "
        "dependencies, config, code, and measures builds 40%+ faster when dependency "
        "layers are reused.",
        bad="FROM node:22-slim\nWORKDIR /app\nCOPY . .\nRUN npm ci\n",
        good="FROM node:22-slim\nWORKDIR /app\nCOPY package.json package-lock.json ./\n"
        "RUN npm ci\nCOPY . .\n",
        check=_copy_all_before_install,
        fix=fix_copy_manifests_first,
    ),
    Rule(
        id="IF202",
        slug="manifest-not-copied-first",
        section="1.2, 4.1",
        severity=Severity.WARNING,
        title="Dependency manifests are not copied on their own before the install",
        message="The install reads a manifest that arrived together with other files.",
        hint="COPY the manifest (requirements.txt, package.json, go.mod...) alone first, "
        "run the install, then copy the rest.",
        why="When a manifest is copied as part of a directory, any change in that "
        "directory invalidates the install layer. Copying the manifest by name keeps the "
        "dependency layer cached until the dependencies themselves change.",
        bad="FROM python:3.12-slim\nCOPY app/ /app/\n"
        "RUN pip install --no-cache-dir -r /app/requirements.txt\n",
        good="FROM python:3.12-slim\nCOPY app/requirements.txt /app/\n"
        "RUN pip install --no-cache-dir -r /app/requirements.txt\nCOPY app/ /app/\n",
        check=_manifest_not_first,
    ),
    Rule(
        id="IF203",
        slug="code-before-system-packages",
        section="1.2",
        severity=Severity.WARNING,
        title="Files are copied before system packages are installed",
        message="System packages are reinstalled whenever the copied files change.",
        hint="Install system packages first; copy application files after them.",
        why="System packages change least often and should form the lowest layers. A "
        "COPY from the context above them means every change to those files reruns the "
        "package install (and downloads it again).",
        bad="FROM debian:12-slim\nCOPY . /app\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10 "
        "&& rm -rf /var/lib/apt/lists/*\n",
        good="FROM debian:12-slim\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10 "
        "&& rm -rf /var/lib/apt/lists/*\nCOPY . /app\n",
        check=_code_before_system,
    ),
    Rule(
        id="IF204",
        slug="apt-update-alone",
        section="4.1",
        severity=Severity.WARNING,
        title="apt-get update in a RUN of its own",
        message="A cached apt-get update layer leaves later installs with stale lists.",
        hint="Run apt-get update && apt-get install ... in one RUN.",
        why="The cache keeps the update layer forever, so a later change to the install "
        "line reuses old package lists and fails or installs outdated versions.",
        bad="FROM debian:12-slim\nRUN apt-get update\n"
        "RUN apt-get install -y --no-install-recommends curl=7.88.1-10 "
        "&& rm -rf /var/lib/apt/lists/*\n",
        good="FROM debian:12-slim\nRUN apt-get update "
        "&& apt-get install -y --no-install-recommends curl=7.88.1-10 "
        "&& rm -rf /var/lib/apt/lists/*\n",
        check=_apt_update_alone,
    ),
    Rule(
        id="IF205",
        slug="apt-lists-not-cleaned",
        section="1.2",
        severity=Severity.WARNING,
        title="apt package lists are not removed in the same RUN",
        message="The apt package lists stay in the image layer.",
        hint="End the RUN with && rm -rf /var/lib/apt/lists/* (or use a cache mount).",
        why="Files deleted in a later RUN still ship in the earlier layer. The package "
        "lists are tens of megabytes that the running application never reads. Checked in "
        "the stages that ship (the final stage and those it is built from).",
        bad="FROM debian:12-slim\nRUN apt-get update "
        "&& apt-get install -y --no-install-recommends curl=7.88.1-10\n",
        good="FROM debian:12-slim\nRUN apt-get update "
        "&& apt-get install -y --no-install-recommends curl=7.88.1-10 "
        "&& rm -rf /var/lib/apt/lists/*\n",
        check=_apt_lists,
        fix=fix_apt_lists,
    ),
    Rule(
        id="IF206",
        slug="apt-install-recommends",
        section="1.1",
        severity=Severity.INFO,
        title="apt-get install without --no-install-recommends",
        message="apt installs recommended packages too.",
        hint="Add --no-install-recommends and name what you need.",
        why="Recommended packages are often as large as the ones asked for and rarely "
        "needed in a container; leaving them out is part of keeping the final image "
        "slim. Checked in every stage (as hadolint's DL3015 does): a builder stage's "
        "extra packages still cost download and build time.",
        bad="FROM debian:12-slim\nRUN apt-get update && apt-get install -y curl=7.88.1-10 "
        "&& rm -rf /var/lib/apt/lists/*\n",
        good="FROM debian:12-slim\nRUN apt-get update "
        "&& apt-get install -y --no-install-recommends curl=7.88.1-10 "
        "&& rm -rf /var/lib/apt/lists/*\n",
        check=_no_recommends,
        fix=fix_no_install_recommends,
    ),
    Rule(
        id="IF207",
        slug="pip-cache",
        section="1.2",
        severity=Severity.INFO,
        title="pip install without --no-cache-dir",
        message="pip keeps its download cache in the image.",
        hint="Add --no-cache-dir, set ENV PIP_NO_CACHE_DIR=1, or use a cache mount.",
        why="pip's cache of downloaded wheels is written into the layer and never used "
        "again at run time. Checked in every stage (as hadolint's DL3042 does): in a "
        "builder stage it still costs disk and layer-cache space.",
        bad="FROM python:3.12-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n",
        good="FROM python:3.12-slim\nCOPY requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n",
        check=_pip_cache,
        fix=fix_pip_no_cache,
    ),
    Rule(
        id="IF208",
        slug="apk-cache",
        section="1.2",
        severity=Severity.INFO,
        title="apk add without --no-cache",
        message="apk keeps its index and cache in the image.",
        hint="Use apk add --no-cache.",
        why="Without --no-cache, apk stores the package index in /var/cache/apk, which "
        "ships in the layer. Checked in every stage (as hadolint's DL3019 does).",
        bad="FROM alpine:3.20\nRUN apk update && apk add curl=8.9.1-r0\n",
        good="FROM alpine:3.20\nRUN apk add --no-cache curl=8.9.1-r0\n",
        check=_apk_cache,
    ),
    Rule(
        id="IF209",
        slug="consecutive-package-runs",
        section="4.1",
        severity=Severity.STYLE,
        title="Consecutive RUNs install system packages one after another",
        message="These package installs belong in one layer.",
        hint="Merge them into one RUN (one update, one install, one cleanup).",
        why="Each RUN is a layer with its own copy of the package database and its own "
        "cache entry; splitting one logical step costs size and rebuild time. The guide "
        "also warns against putting too much in one layer: merge steps that change "
        "together.",
        bad="FROM alpine:3.20\nRUN apk add --no-cache curl=8.9.1-r0\n"
        "RUN apk add --no-cache git=2.45.2-r0\n",
        good="FROM alpine:3.20\nRUN apk add --no-cache curl=8.9.1-r0 git=2.45.2-r0\n",
        check=_consecutive,
    ),
    Rule(
        id="IF210",
        slug="add-instead-of-copy",
        section="1.2",
        severity=Severity.WARNING,
        title="ADD used where COPY is meant",
        message="ADD of local files that are not archives.",
        hint="Use COPY; keep ADD for archives to unpack and checksummed URLs.",
        why="ADD also unpacks archives and fetches URLs, so a reader cannot tell what a "
        "line does without knowing the files. COPY does one thing.",
        bad="FROM alpine:3.20\nADD app.py /app/\n",
        good="FROM alpine:3.20\nCOPY app.py /app/\nADD rootfs.tar.gz /\n",
        check=_add_for_copy,
    ),
)

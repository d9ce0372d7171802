"""Section 2.1 of the guide: locked dependencies (IF3xx)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from imageforge.dockerfile import Env, Run, Stage
from imageforge.lint._facts import (
    chain_instructions,
    context_copies,
    copied_names,
    has_cache_mount,
    installs,
    names_match,
    run_commands,
    runs,
)
from imageforge.lint._fixes import fix_npm_ci
from imageforge.lint._model import Hit, LintInput, Rule, hit
from imageforge.lint._shell import run_text
from imageforge.report import Severity

__all__ = ["LOCK_RULES"]

_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml")


def _npm_install(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            for i in installs(run):
                if i.tool == "npm" and i.args[0] in ("install", "i") and not i.packages:
                    yield hit(run, "npm install instead of npm ci")
                    break


_NPM_GIT = ("git://", "git+ssh://", "git+http://", "git+https://")


def _npm_pinned(spec: str) -> bool:
    if spec.startswith(_NPM_GIT):
        return "#" in spec
    if spec.endswith((".tar", ".tar.gz", ".tgz")) or spec.startswith(("/", "./", "../", "~/")):
        return True
    if "$" in spec:
        return True  # decided at build time
    name = spec.split("/", 1)[1] if spec.startswith("@") and "/" in spec else spec
    return "@" in name


def _npm_unpinned(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            for i in installs(run):
                if i.tool == "npm" and i.args[0] in ("install", "i", "add"):
                    loose = [p for p in i.packages if not _npm_pinned(p)]
                    if loose:
                        yield hit(run, "unpinned: " + ", ".join(loose[:5]))
                        break


_GO_MOVING = ("latest", "master", "main", "HEAD")


def _go_unpinned(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            loose: list[str] = []
            for c in run_commands(run):
                if c.program != "go":
                    continue
                args = c.args_after("go", "install")
                if args is None:
                    args = c.args_after("go", "get")
                if args is None:  # go run pkg@version runs a remote module too
                    args = c.args_after("go", "run")
                    args = args[:1] if args and "@" in args[0] else ()
                for a in args or ():
                    if a.startswith(("-", ".", "/")) or "$" in a.split("@", 1)[0]:
                        continue  # flags, local packages
                    if a.endswith(".go"):
                        continue  # a local file
                    version = a.split("@", 1)[1] if "@" in a else ""
                    if not version or version in _GO_MOVING:
                        loose.append(a)
            if loose:
                yield hit(run, "unpinned: " + ", ".join(loose[:5]))


def _npm_lockfile(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            node = [i for i in installs(run) if i.tool in ("npm", "yarn", "pnpm") and i.manifests]
            if not node or any(m.type == "bind" for m in run.mounts):
                continue
            names, broad = copied_names(stage, run)
            if broad or not names_match(names, ["package.json"]):
                continue
            if not names_match(names, list(_LOCKFILES)):
                yield hit(run, f"{node[0].tool} installs from package.json without a lockfile")


def _yarn_frozen(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            for i in installs(run):
                if i.tool == "yarn" and i.manifests:
                    if not i.has("--frozen-lockfile", "--immutable", "--pure-lockfile"):
                        yield hit(run, "yarn install without --frozen-lockfile or --immutable")
                        break


_NODE_PROD_FLAGS = ("--omit", "--only", "--production", "--prod", "-P")
_DEV_REQ = re.compile(r"(^|[-_/])(dev|test|tests|testing|lint|docs)([-_.]|$)")


def _dev_deps(lint: LintInput) -> Iterator[Hit]:
    node_env = ""
    chain = chain_instructions(lint)
    pruned = any(
        isinstance(i, Run)
        and any(
            c.program in ("npm", "pnpm", "yarn") and "prune" in c.words for c in run_commands(i)
        )
        for _s, i in chain
    )
    for _stage, instr in chain:
        if isinstance(instr, Env):
            for kv in instr.pairs:
                if kv.key == "NODE_ENV":
                    node_env = kv.value
        if not isinstance(instr, Run):
            continue
        text = run_text(instr)
        for i in installs(instr):
            if i.tool in ("npm", "pnpm", "yarn") and i.manifests and not pruned:
                prod = i.has(*_NODE_PROD_FLAGS) or node_env == "production"
                if not prod and "NODE_ENV=production" not in text:
                    yield hit(instr, f"{i.tool} installs dev dependencies in the final image")
                    break
            if i.tool == "poetry" and not (
                i.has("--no-dev", "--without") or ("--only" in text and "main" in text)
            ):
                yield hit(instr, "poetry install includes dev dependencies")
                break
            if i.tool == "pipenv" and i.has("--dev", "-d"):
                yield hit(instr, "pipenv install --dev in the final image")
                break
            if i.tool == "pip" and any(_DEV_REQ.search(m) for m in i.manifests):
                yield hit(instr, "pip installs a development requirements file")
                break


def _pinned_pip(name: str) -> bool:
    if "==" in name or "@" in name or "$" in name:
        return True
    # Paths, URLs, wheels and sdists name exact files.
    return name.startswith((".", "/", "~")) or "/" in name or name.endswith((".whl", ".tar.gz"))


_REQ_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?")


def _unpinned_requirements(path: Path) -> list[str] | None:
    """Requirement lines of ``path`` that pin no exact version (None: unreadable)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    loose = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        m = _REQ_NAME.match(line)
        if m and "==" not in line and "@" not in line:
            loose.append(m.group(0))
    return loose


def _requirement_files(
    lint: LintInput, stage: Stage, run: Run, names: tuple[str, ...]
) -> list[Path]:
    """Context files a ``pip install -r NAME`` reads, found through the COPYs before it."""
    if lint.context is None:
        return []
    root = Path(lint.context.context)
    out = []
    for c in context_copies(stage, run):
        for s in c.sources:
            if s.rstrip("/").rsplit("/", 1)[-1] in names and "*" not in s:
                out.append(root / s.lstrip("/"))
    return out


def _pip_unpinned(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            for i in installs(run):
                if i.tool != "pip" or i.has("-c", "--constraint"):
                    continue
                loose = [p for p in i.packages if not _pinned_pip(p)]
                for req in _requirement_files(lint, stage, run, i.manifests):
                    found = _unpinned_requirements(req)
                    if found:
                        loose.append(f"{', '.join(found[:5])} in {req.name}")
                if loose:
                    yield hit(run, "unpinned: " + ", ".join(loose))
                    break


def _python_lock(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            for i in installs(run):
                if i.tool == "pipenv" and i.manifests and i.args[0] == "install":
                    if not i.has("--deploy", "--ignore-pipfile"):
                        yield hit(run, "pipenv install may re-lock; use --deploy or pipenv sync")
                        break
                if i.tool == "poetry":
                    names, broad = copied_names(stage, run)
                    if broad or any(m.type == "bind" for m in run.mounts):
                        continue
                    if names_match(names, ["pyproject.toml"]) and not names_match(
                        names, ["poetry.lock"]
                    ):
                        yield hit(run, "poetry install without poetry.lock copied")
                        break


def _go_mod(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        downloaded = False
        for run in runs(stage):
            cmds = run_commands(run)
            if any(
                c.program == "go" and c.args_after("go", "mod", "download") is not None
                for c in cmds
            ):
                downloaded = True
            builds = [
                c
                for c in cmds
                if c.program == "go" and ("build" in c.words or "install" in c.words)
            ]
            if not builds or downloaded:
                continue
            if has_cache_mount(run, "/go/pkg/mod", "pkg/mod"):
                continue
            names, broad = copied_names(stage, run)
            if broad or (names and not names_match(names, ["go.mod", "go.sum"])):
                yield hit(run, "go build without an earlier go mod download from go.mod/go.sum")


_JVM_BUILD = {
    "package",
    "install",
    "verify",
    "compile",
    "build",
    "assemble",
    "bootJar",
    "jar",
    "shadowJar",
    "installDist",
}
_JVM_RESOLVE = ("dependency:go-offline", "dependency:resolve", "dependencies", "go-offline")


def _jvm_deps(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        resolved = False
        for run in runs(stage):
            text = run_text(run)
            tools = [
                c for c in run_commands(run) if c.program in ("mvn", "mvnw", "gradle", "gradlew")
            ]
            if not tools:
                continue
            if any(r in text for r in _JVM_RESOLVE):
                resolved = True
                continue
            if resolved or has_cache_mount(run, ".m2", ".gradle"):
                continue
            if not any(_JVM_BUILD & set(c.words) for c in tools):
                continue
            names, broad = copied_names(stage, run)
            if broad or "src" in names:
                yield hit(run, "sources are copied before dependencies are resolved")


def _os_unpinned(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for run in runs(stage):
            loose: list[str] = []
            for i in installs(run):
                if i.tool == "apt":
                    loose += [
                        p
                        for p in i.packages
                        if "=" not in p and "$" not in p and not p.endswith(".deb")
                    ]
                elif i.tool == "apk":
                    loose += [p for p in i.packages if not re.search(r"[=~<>]", p) and "$" not in p]
                elif i.tool == "yum":  # yum, dnf, microdnf: name-<version> or an .rpm
                    loose += [
                        p
                        for p in i.packages
                        if not re.search(r"-[0-9]", p) and not p.endswith(".rpm") and "$" not in p
                    ]
                elif i.tool == "gem" and not i.has("-v", "--version"):
                    loose += [p for p in i.packages if ":" not in p and "$" not in p]
            if loose:
                shown = ", ".join(loose[:5]) + (" ..." if len(loose) > 5 else "")
                yield hit(run, f"unpinned: {shown}")


LOCK_RULES = (
    Rule(
        id="IF301",
        slug="npm-install",
        section="2.1",
        severity=Severity.WARNING,
        title="npm install instead of npm ci",
        message="npm install may change the lockfile and install other versions.",
        hint="Use npm ci, which installs exactly the lockfile and fails when it is stale.",
        why="The guide locks dependencies: npm ci with package-lock.json installs the same "
        "tree on every build. npm install resolves ranges again and can silently pull new "
        "versions.",
        bad="FROM node:22-slim\nCOPY package.json package-lock.json ./\nRUN npm install\n",
        good="FROM node:22-slim\nCOPY package.json package-lock.json ./\nRUN npm ci\n",
        check=_npm_install,
        fix=fix_npm_ci,
    ),
    Rule(
        id="IF302",
        slug="node-no-lockfile",
        section="2.1",
        severity=Severity.WARNING,
        title="No lockfile copied for npm, yarn or pnpm",
        message="package.json is copied without its lockfile.",
        hint="Copy package-lock.json, yarn.lock or pnpm-lock.yaml with package.json.",
        why="Without a lockfile, every build resolves version ranges anew, so two builds "
        "of the same commit can ship different dependencies.",
        bad="FROM node:22-slim\nCOPY package.json ./\nRUN npm ci\n",
        good="FROM node:22-slim\nCOPY package.json package-lock.json ./\nRUN npm ci\n",
        check=_npm_lockfile,
    ),
    Rule(
        id="IF303",
        slug="yarn-not-frozen",
        section="2.1",
        severity=Severity.WARNING,
        title="yarn install without --frozen-lockfile or --immutable",
        message="yarn may rewrite yarn.lock during the build.",
        hint="Use yarn install --frozen-lockfile (yarn 1) or --immutable (yarn 2+).",
        why="Without the flag, yarn updates the lockfile when it disagrees with "
        "package.json instead of failing, so the image no longer matches the lock.",
        bad="FROM node:22-slim\nCOPY package.json yarn.lock ./\nRUN yarn install\n",
        good="FROM node:22-slim\nCOPY package.json yarn.lock ./\n"
        "RUN yarn install --frozen-lockfile\n",
        check=_yarn_frozen,
    ),
    Rule(
        id="IF304",
        slug="dev-dependencies-in-final",
        section="2.1",
        severity=Severity.WARNING,
        title="Development dependencies are installed in the final stage",
        message="The final image installs development dependencies.",
        hint="Install with --omit=dev (npm), --production (yarn 1), --prod (pnpm), "
        "--only main (poetry), or build in a separate stage.",
        why="The guide asks for production-only installs (npm's --only=production). Test "
        "runners, linters and bundlers make the image bigger and add vulnerabilities "
        "the running service never needed.",
        bad="FROM node:22-slim\nCOPY package.json package-lock.json ./\nRUN npm ci\n",
        good="FROM node:22-slim\nCOPY package.json package-lock.json ./\nRUN npm ci --omit=dev\n",
        check=_dev_deps,
    ),
    Rule(
        id="IF305",
        slug="pip-unpinned",
        section="2.1",
        severity=Severity.WARNING,
        title="pip installs packages without pinned versions",
        message="pip install names packages without an exact version.",
        hint="Pin with name==version, or install from a locked requirements file "
        "(pip-compile, poetry export) with -r.",
        why="An unpinned name installs whatever is newest at build time: the same "
        "Dockerfile builds different images, and a bad release breaks the build. When "
        "the build context is known, the requirements files installed with -r are read "
        "too, and their unpinned lines reported.",
        bad="FROM python:3.12-slim\nRUN pip install --no-cache-dir flask\n",
        good="FROM python:3.12-slim\nRUN pip install --no-cache-dir flask==3.0.3\n",
        check=_pip_unpinned,
    ),
    Rule(
        id="IF306",
        slug="python-lock-unused",
        section="2.1",
        severity=Severity.WARNING,
        title="poetry or pipenv installs without their lockfile",
        message="The Python dependency lock is not used.",
        hint="Copy poetry.lock with pyproject.toml; run pipenv install --deploy or "
        "pipenv sync with Pipfile.lock.",
        why="The guide locks Python dependencies through pipenv or poetry lock files. "
        "Installing from pyproject.toml or Pipfile alone resolves versions again.",
        bad="FROM python:3.12-slim\nCOPY pyproject.toml ./\nRUN poetry install --only main\n",
        good="FROM python:3.12-slim\nCOPY pyproject.toml poetry.lock ./\n"
        "RUN poetry install --only main\n",
        check=_python_lock,
    ),
    Rule(
        id="IF307",
        slug="go-mod-download",
        section="2.1, 4.1",
        severity=Severity.WARNING,
        title="go build before go mod download from go.mod/go.sum",
        message="Go modules are downloaded as part of the build, after the code is copied.",
        hint="COPY go.mod go.sum ./ then RUN go mod download, then copy the code and build.",
        why="Downloading modules in their own layer, keyed on go.mod and go.sum, keeps them "
        "cached across code changes; go.sum also verifies every module's checksum.",
        bad="FROM golang:1.23 AS build\nCOPY . .\nRUN go build -o /app .\n",
        good="FROM golang:1.23 AS build\nCOPY go.mod go.sum ./\nRUN go mod download\n"
        "COPY . .\nRUN go build -o /app .\n",
        check=_go_mod,
    ),
    Rule(
        id="IF308",
        slug="jvm-deps-after-sources",
        section="2.1, 4.1",
        severity=Severity.WARNING,
        title="Maven or Gradle sources are copied before dependency resolution",
        message="Every source change downloads all Maven or Gradle dependencies again.",
        hint="COPY pom.xml (or build.gradle) first, RUN mvn dependency:go-offline "
        "(gradle dependencies), then copy src/ and build.",
        why="Resolving dependencies in a layer keyed only on the build file keeps them "
        "cached; builds then take seconds instead of minutes.",
        bad="FROM maven:3.9-eclipse-temurin-21 AS build\nCOPY . .\nRUN mvn -B package\n",
        good="FROM maven:3.9-eclipse-temurin-21 AS build\nCOPY pom.xml .\n"
        "RUN mvn -B dependency:go-offline\nCOPY src ./src\nRUN mvn -B package\n",
        check=_jvm_deps,
    ),
    Rule(
        id="IF309",
        slug="os-packages-unpinned",
        section="2.1",
        severity=Severity.INFO,
        title="apt, apk, yum/dnf or gem packages without versions",
        message="System packages are installed without a version.",
        hint="Pin versions (curl=7.88.1-10, curl=8.9.1-r0, curl-7.76.1, gem install x -v "
        "1.2), and "
        "update the pins on purpose.",
        why="Unpinned packages follow the distribution's archive, so rebuilds differ. "
        "Pinning makes changes reviewable; pair it with a pinned base digest.",
        bad="FROM alpine:3.20\nRUN apk add --no-cache curl\n",
        good="FROM alpine:3.20\nRUN apk add --no-cache curl=8.9.1-r0\n",
        check=_os_unpinned,
    ),
    Rule(
        id="IF310",
        slug="npm-packages-unpinned",
        section="2.1",
        severity=Severity.WARNING,
        title="npm install names packages without versions",
        message="npm installs a named package at whatever version is newest.",
        hint="Name the version (npm install -g typescript@5.6.3), or list the package in "
        "package.json and install the lockfile with npm ci.",
        why="A package named without a version (or git URL without #commit) resolves "
        "again on every build, so two builds of one Dockerfile can differ (hadolint "
        "DL3016).",
        bad="FROM node:22-slim\nRUN npm install -g typescript\n",
        good="FROM node:22-slim\nRUN npm install -g typescript@5.6.3\n",
        check=_npm_unpinned,
    ),
    Rule(
        id="IF311",
        slug="go-install-unpinned",
        section="2.1",
        severity=Severity.WARNING,
        title="go install or go get without a fixed version",
        message="A Go tool is installed at whatever version is newest.",
        hint="Name the version: go install example.com/tool@v1.2.3.",
        why="Without @version (or with @latest, @master) go resolves the module again on "
        "every build, so two builds of one Dockerfile can differ (hadolint DL3062). "
        "Local packages (./cmd/x) build what was copied and are not reported.",
        bad="FROM golang:1.23\nRUN go install golang.org/x/tools/cmd/goimports@latest\n",
        good="FROM golang:1.23\nRUN go install golang.org/x/tools/cmd/goimports@v0.24.0\n",
        check=_go_unpinned,
    ),
)

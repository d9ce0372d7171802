"""Section 2.2 of the guide: multi-stage builds (IF4xx)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from imageforge.dockerfile import Run
from imageforge.lint._facts import chain_instructions, has_cache_mount, installs, run_commands
from imageforge.lint._model import Hit, LintInput, Rule, hit
from imageforge.lint._shell import Command
from imageforge.report import Severity

__all__ = ["STAGE_RULES"]

_TOOLCHAINS = {"golang", "maven", "gradle", "rust", "gcc", "clang", "buildpack-deps", "sbt"}
_JDKS = {"eclipse-temurin", "openjdk", "amazoncorretto", "ibmjava", "sapmachine"}
_BUILD_WORDS = re.compile(
    r"\b(npm run build|yarn build|yarn run build|pnpm build|pnpm run build|tsc|webpack|"
    r"ng build|vite build|next build)\b"
)
_COMPILE = {
    "go": ("build", "install"),
    "cargo": ("build", "install"),
    "mvn": ("package", "install", "verify", "compile"),
    "mvnw": ("package", "install", "verify", "compile"),
    "gradle": ("build", "assemble", "bootJar", "jar", "installDist"),
    "gradlew": ("build", "assemble", "bootJar", "jar", "installDist"),
    "javac": (),
    "gcc": (),
    "g++": (),
    "make": (),
}


def _builds(lint: LintInput) -> str | None:
    """The first build command the shipped stages run, if any."""
    for _stage, instr in chain_instructions(lint):
        if not isinstance(instr, Run):
            continue
        for c in run_commands(instr):
            subs = _COMPILE.get(c.program)
            if subs is not None and (not subs or any(s in c.words for s in subs)):
                return " ".join(c.words[:3])
        m = _BUILD_WORDS.search(" ".join(instr.args))
        if m:
            return m.group(0)
    return None


def _toolchain_final(lint: LintInput) -> Iterator[Hit]:
    final = lint.final
    if final is None:
        return
    root = lint.runtime_root(final)
    if root.ref is None:
        return
    repo = root.repository
    tag = root.ref.tag or "latest"
    if repo in _TOOLCHAINS:
        yield hit(root.stage.from_, f"{repo} is a build toolchain image")
    elif repo in _JDKS and "jre" not in tag and _builds(lint):
        yield hit(root.stage.from_, f"{repo}:{tag} is a JDK, and this stage compiles")
    elif repo == "node":
        built = _builds(lint)
        if built:
            yield hit(root.stage.from_, f"the final node stage also builds ({built})")


_COMPILERS = {
    "gcc",
    "g++",
    "clang",
    "make",
    "cmake",
    "build-essential",
    "build-base",
    "alpine-sdk",
    "musl-dev",
    "libc6-dev",
    "golang",
    "rustc",
    "cargo",
    "default-jdk",
    "autoconf",
    "automake",
    "libtool",
}


def _is_dev_package(name: str) -> bool:
    bare = re.split(r"[=~<>]", name, maxsplit=1)[0]
    return bare in _COMPILERS or bare.endswith(("-dev", "-devel"))


# Build commands and the cache each leaves behind unless a cache mount holds it.
_CACHES = {
    "go": (("build", "install"), "/root/.cache/go-build", ("go-build", "/root/.cache")),
    "cargo": (("build", "install"), "~/.cargo/registry and target/", (".cargo", "target")),
    "mvn": (("package", "install", "verify"), "~/.m2", (".m2",)),
    "mvnw": (("package", "install", "verify"), "~/.m2", (".m2",)),
    "gradle": (("build", "assemble", "bootJar"), "~/.gradle", (".gradle",)),
    "gradlew": (("build", "assemble", "bootJar"), "~/.gradle", (".gradle",)),
}


def _caches(run: Run, cmds: tuple[Command, ...]) -> Iterator[Hit]:
    for c in cmds:
        entry = _CACHES.get(c.program)
        if entry is None:
            continue
        subs, where, mounts = entry
        if any(s in c.words for s in subs) and not has_cache_mount(run, *mounts):
            yield hit(run, f"{c.program} {next(s for s in subs if s in c.words)} leaves {where}")
            return


def _build_tools(lint: LintInput) -> Iterator[Hit]:
    if len(lint.dockerfile.stages) == 0:
        return
    for _stage, instr in chain_instructions(lint):
        if not isinstance(instr, Run):
            continue
        cmds = run_commands(instr)
        yield from _caches(instr, cmds)
        removed = any(
            (c.program in ("apt-get", "apt") and ("purge" in c.words or "remove" in c.words))
            or (c.program == "apk" and "del" in c.words)
            or (c.program in ("yum", "dnf") and ("remove" in c.words or "erase" in c.words))
            for c in cmds
        )
        if removed:
            continue
        tools = [
            p
            for i in installs(instr)
            if i.tool in ("apt", "apk", "yum")
            for p in i.packages
            if _is_dev_package(p)
        ]
        if tools:
            shown = ", ".join(tools[:4]) + (" ..." if len(tools) > 4 else "")
            yield hit(instr, f"installs {shown} and keeps them")


STAGE_RULES = (
    Rule(
        id="IF401",
        slug="toolchain-final-stage",
        section="2.2",
        severity=Severity.WARNING,
        title="The final stage is a build toolchain image",
        message="The image that ships is the one that builds.",
        hint="Build in a first stage (FROM golang:1.23 AS build), then COPY --from=build "
        "only the result into a small runtime base (distroless, alpine, -slim, a JRE).",
        why="The guide's multi-stage example shrinks a Go application from 800 MB to "
        "under 15 MB: compilers, SDKs and caches stay in the build stage, and the final "
        "stage carries only what runs.",
        bad="FROM golang:1.23\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\n"
        "RUN go build -o /app .\nUSER 65532\n",
        good="FROM golang:1.23 AS build\nCOPY go.mod go.sum ./\nRUN go mod download\n"
        "COPY . .\nRUN go build -o /app .\n"
        "FROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=build /app /app\n"
        "USER 65532\n",
        check=_toolchain_final,
    ),
    Rule(
        id="IF402",
        slug="final-keeps-build-tools",
        section="2.2",
        severity=Severity.WARNING,
        title="The final stage keeps compilers, headers or build caches",
        message="Build tools or build caches stay in the final image.",
        hint="Compile in a build stage and copy the result, or remove the tools in the "
        "same RUN (apk add --virtual .build ... && apk del .build).",
        why="Compilers, headers and the caches of go, cargo, maven and gradle are needed "
        "to build, not to run. Left in the final image they add size and attack "
        "surface; the guide's answer is a multi-stage build (or a RUN "
        "--mount=type=cache for the caches).",
        bad="FROM python:3.12-slim\nRUN apt-get update && apt-get install -y "
        "--no-install-recommends gcc=4:12.2.0-3 && rm -rf /var/lib/apt/lists/*\n",
        good="FROM python:3.12-slim\nRUN apt-get update && apt-get install -y "
        "--no-install-recommends gcc=4:12.2.0-3 && pip install --no-cache-dir "
        "psutil==6.0.0 && apt-get purge -y gcc && rm -rf /var/lib/apt/lists/*\n",
        check=_build_tools,
    ),
)

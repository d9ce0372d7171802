"""Section 1.1 of the guide: the base image (IF1xx)."""

from __future__ import annotations

from collections.abc import Iterator

from imageforge.dockerfile import Copy, Label
from imageforge.lint._model import Hit, LintInput, Rule, hit
from imageforge.policy import LintPolicy
from imageforge.report import Severity

__all__ = ["BASE_RULES"]


def _latest(lint: LintInput) -> Iterator[Hit]:
    for base in lint.bases:
        ref = base.ref
        if ref is None or ref.digest is not None:
            continue
        if ref.tag is None:
            yield hit(base.stage.from_, f"{base.text} has no tag, so it means :latest")
        elif ref.tag == "latest":
            yield hit(base.stage.from_, f"{base.text} uses the moving tag :latest")


def _no_digest(lint: LintInput) -> Iterator[Hit]:
    for base in lint.bases:
        if base.ref is not None and base.ref.digest is None:
            yield hit(base.stage.from_, f"{base.text} is not pinned by digest")


# Official images with a slim or alpine variant, and what to suggest.
_SLIM: dict[str, tuple[tuple[str, ...], str]] = {
    "python": (("slim", "alpine"), "python:<version>-slim (or -alpine)"),
    "node": (("slim", "alpine"), "node:<version>-slim (or -alpine)"),
    "debian": (("slim",), "debian:<release>-slim"),
    "ubuntu": ((), "debian:<release>-slim or alpine (ubuntu has no slim variant)"),
    "golang": (("alpine",), "golang:<version>-alpine, or better a multi-stage build"),
    "openjdk": (("slim", "alpine"), "eclipse-temurin:<version>-jre-alpine"),
    "ruby": (("slim", "alpine"), "ruby:<version>-slim (or -alpine)"),
    "php": (("alpine",), "php:<version>-alpine"),
    "perl": (("slim",), "perl:<version>-slim"),
    "rust": (("slim", "alpine"), "rust:<version>-slim, or better a multi-stage build"),
    "elixir": (("slim", "alpine"), "elixir:<version>-slim (or -alpine)"),
    "erlang": (("slim", "alpine"), "erlang:<version>-slim (or -alpine)"),
    "haskell": (("slim",), "haskell:<version>-slim"),
    "centos": ((), "a slim Debian or alpine base"),
    "fedora": ((), "a slim Debian or alpine base, or fedora-minimal"),
    "buildpack-deps": ((), "debian:<release>-slim"),
}


def _heavy_final(lint: LintInput) -> Iterator[Hit]:
    final = lint.final
    if final is None:
        return
    root = lint.runtime_root(final)
    if root.ref is None or not root.official or root.repository not in _SLIM:
        return
    light, suggestion = _SLIM[root.repository]
    tag = root.ref.tag or "latest"
    if any(word in tag for word in light):
        return
    yield hit(
        root.stage.from_,
        f"the final image is built on the full {root.repository}:{tag}; use {suggestion}",
    )


_DEPRECATED_JDK = {
    "docker.io/library/openjdk": "the openjdk image is deprecated and no longer updated",
    "docker.io/library/java": "the java image was deprecated years ago",
    "docker.io/library/adoptopenjdk": "AdoptOpenJDK moved to Eclipse Temurin",
}


def _jdk(lint: LintInput) -> Iterator[Hit]:
    for base in lint.bases:
        ref = base.ref
        if ref is None:
            continue
        name = f"{ref.domain}/{ref.path}"
        why = _DEPRECATED_JDK.get(name)
        if why is None and ref.domain == "docker.io" and ref.path.startswith("adoptopenjdk/"):
            why = "AdoptOpenJDK moved to Eclipse Temurin"
        if why is None and ref.path.startswith("store/oracle/"):
            why = "the Docker Store Oracle images are gone"
        if why is not None:
            yield hit(base.stage.from_, f"{base.text}: {why}")


def _unknown_stage(lint: LintInput) -> Iterator[Hit]:
    stages = lint.dockerfile.stages
    later: dict[str, int] = {}
    for s in stages:
        if s.name:
            later.setdefault(s.name.lower(), s.index)
    for stage in stages:
        base = stage.base.lower()
        if base in later and later[base] >= stage.index:
            yield hit(stage.from_, f"FROM {stage.base}: that stage is defined here or later")
        for instr in stage.instructions:
            if not isinstance(instr, Copy) or instr.from_ is None:
                continue
            src = instr.from_.lower()
            if src.isdigit():
                if int(src) >= stage.index:
                    yield hit(instr, f"COPY --from={src}: no earlier stage has that index")
            elif src in later and later[src] >= stage.index:
                yield hit(instr, f"COPY --from={instr.from_}: that stage is defined here or later")
            elif src not in later and not any(ch in src for ch in ":/@$"):
                yield hit(
                    instr,
                    f"COPY --from={instr.from_}: no stage has that name, so BuildKit pulls "
                    f"the image {instr.from_}:latest",
                )


def _registry_matches(name: str, trusted: str) -> bool:
    t = trusted.rstrip("/")
    if t in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        t = "docker.io"
    return name == t or name.startswith(t + "/")


def _untrusted(lint: LintInput) -> Iterator[Hit]:
    trusted = lint.policy.trusted_registries
    if not trusted:
        return
    for base in lint.bases:
        if base.ref is None:
            continue
        name = f"{base.ref.domain}/{base.ref.path}"
        if not any(_registry_matches(name, t) for t in trusted):
            yield hit(base.stage.from_, f"{base.text} comes from {base.ref.domain}")


def _labels(lint: LintInput) -> Iterator[Hit]:
    required = lint.policy.required_labels
    final = lint.final
    if not required or final is None:
        return
    have = {
        kv.key
        for stage in lint.final_stages()
        for i in stage.instructions
        if isinstance(i, Label)
        for kv in i.pairs
    }
    missing = [k for k in required if k not in have]
    if missing:
        yield hit(final.from_, "missing " + ", ".join(missing))


BASE_RULES = (
    Rule(
        id="IF101",
        slug="base-latest-tag",
        section="1.1",
        severity=Severity.WARNING,
        title="Base image uses latest or no tag",
        message="The base image has no fixed version.",
        hint="Name a version tag (python:3.12-slim) and, better, pin its digest.",
        why="A tag such as latest moves: the same Dockerfile builds a different image "
        "tomorrow, and a rebuild can break or change size without any change of yours. "
        "The guide's first practice is a deliberate, known base image.",
        bad="FROM python\nUSER 1000\n",
        good="FROM python:3.12-slim\nUSER 1000\n",
        check=_latest,
    ),
    Rule(
        id="IF102",
        slug="base-no-digest",
        section="1.1",
        severity=Severity.INFO,
        title="Base image is not pinned by digest",
        message="The base image is referred to by tag only.",
        hint="Append @sha256:<digest> to the FROM (keep the tag for readers).",
        why="A tag can be moved to other content by whoever controls the repository; "
        "only a digest names exactly the bytes you tested. Pin it and let a bot "
        "update the pin, so base changes arrive as reviewed commits.",
        bad="FROM alpine:3.20\n",
        good="FROM alpine:3.20@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
        check=_no_digest,
    ),
    Rule(
        id="IF103",
        slug="final-base-not-slim",
        section="1.1",
        severity=Severity.WARNING,
        title="Final stage uses a full image where a slim variant exists",
        message="The final image starts from a full distribution image.",
        hint="Use the slim or alpine variant of the same image for the final stage; "
        "keep the full one for build stages.",
        why="The guide measures slim and alpine bases at 60-80% smaller than the full "
        "ones. A full image ships compilers, headers and tools the application never "
        "runs, which cost pull time, disk and vulnerability reports. Build stages may "
        "use full toolchain images; only the final stage ships.",
        bad="FROM python:3.12\nUSER 1000\n",
        good="FROM python:3.12 AS build\nRUN echo build\nFROM python:3.12-slim\nUSER 1000\n",
        check=_heavy_final,
    ),
    Rule(
        id="IF104",
        slug="jdk-uncertified",
        section="1.1",
        severity=Severity.WARNING,
        title="JDK base from a deprecated or uncertified source",
        message="This Java base image is deprecated or uncertified.",
        hint="Use eclipse-temurin (a JRE tag for the final stage), or another "
        "TCK-certified distribution.",
        why="The guide recommends certified Java images such as eclipse-temurin. The "
        "openjdk, java and adoptopenjdk images are deprecated: they receive no security "
        "updates, so every rebuild keeps old vulnerabilities.",
        bad="FROM openjdk:17-jdk-slim\n",
        good="FROM eclipse-temurin:17-jre-alpine\n",
        check=_jdk,
    ),
    Rule(
        id="IF105",
        slug="unknown-stage",
        section="1.1",
        severity=Severity.ERROR,
        title="FROM or COPY --from names a stage that is not defined before it",
        message="This refers to a stage that does not exist yet.",
        hint="Define the stage earlier, or fix the name.",
        why="A stage can only build on stages above it. A name that is defined later "
        "(or a stage index that is out of range) is either a typo or is silently "
        "pulled as an image of that name from Docker Hub.",
        bad="FROM builder AS app\nFROM alpine:3.20 AS builder\n",
        good="FROM alpine:3.20 AS builder\nFROM builder AS app\n",
        check=_unknown_stage,
    ),
    Rule(
        id="IF106",
        slug="untrusted-registry",
        section="1.1",
        severity=Severity.ERROR,
        title="Base image from a registry the policy does not trust",
        message="The base image comes from a registry not in trusted-registries.",
        hint="Mirror the image into a trusted registry, or add the registry to "
        "[lint] trusted-registries in imageforge.toml.",
        why="A build standard names where base images may come from, so every image "
        "starts from content that was reviewed and scanned. Runs only when "
        "trusted-registries is set.",
        bad="FROM quay.io/example/app:1.0\n",
        good="FROM docker.io/library/alpine:3.20\n",
        check=_untrusted,
        example_policy=LintPolicy(trusted_registries=("docker.io",)),
    ),
    Rule(
        id="IF107",
        slug="required-label-missing",
        section="end",
        severity=Severity.WARNING,
        title="Final stage misses a label the policy requires",
        message="The final image misses required labels.",
        hint="Add LABEL key=value to the final stage for each required label.",
        why="The guide closes with a written build standard: labels such as the source "
        "repository or owner let a registry, a scanner and a person trace an image back "
        "to its code. Runs only when required-labels is set.",
        bad="FROM alpine:3.20\n",
        good="FROM alpine:3.20\nLABEL org.opencontainers.image.source=https://example.org\n",
        check=_labels,
        example_policy=LintPolicy(required_labels=("org.opencontainers.image.source",)),
    ),
)

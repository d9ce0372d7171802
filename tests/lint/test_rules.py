"""Every rule fails its bad example and passes its good one (the examples in the docs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageforge.lint import RULES, Rule, lint_path, lint_source
from tests.lint.conftest import ids, ids_in_context

_PLAIN = [r for r in RULES if not r.needs_context]
_CONTEXT = [r for r in RULES if r.needs_context]


@pytest.mark.parametrize("rule", _PLAIN, ids=lambda r: r.id)
def test_bad_example_fails_the_rule(rule: Rule) -> None:
    assert rule.id in ids(rule.bad, rule.example_policy)


@pytest.mark.parametrize("rule", _PLAIN, ids=lambda r: r.id)
def test_good_example_passes_the_rule(rule: Rule) -> None:
    assert rule.id not in ids(rule.good, rule.example_policy)


@pytest.mark.parametrize("rule", _CONTEXT, ids=lambda r: r.id)
def test_context_rule_bad_example(rule: Rule, tmp_path: Path) -> None:
    assert rule.id in ids_in_context(tmp_path, rule.bad, rule.bad_context)


@pytest.mark.parametrize("rule", _CONTEXT, ids=lambda r: r.id)
def test_context_rule_good_example(rule: Rule, tmp_path: Path) -> None:
    assert rule.id not in ids_in_context(tmp_path, rule.good, rule.good_context)


def test_context_rules_are_silent_without_a_context() -> None:
    for rule in _CONTEXT:
        assert rule.id not in ids(rule.bad)


def test_ids_are_unique_and_grouped_by_guide_section() -> None:
    seen = [r.id for r in RULES]
    assert len(seen) == len(set(seen))
    assert len({r.slug for r in RULES}) == len(RULES)
    groups = {
        "0": "all",
        "1": "1.1",
        "2": "1.2",
        "3": "2.1",
        "4": "2.2",
        "5": "3.1",
        "6": "6.1",
        "7": "all",
    }
    for r in RULES:
        assert r.id.startswith("IF") and len(r.id) == 5
        if r.id != "IF107":  # the policy's labels: the guide's closing advice
            assert groups[r.id[2]] in r.section or r.section == "all" or r.id[2] == "2"


# Rule by rule, cases beyond the doc examples: (rule, Dockerfile, fires?).
CASES = [
    ("IF101", "FROM nginx:latest\n", True),
    ("IF101", "FROM nginx@sha256:" + "a" * 64 + "\n", False),
    ("IF101", "ARG V=3.20\nFROM alpine:${V}\n", False),
    ("IF101", "ARG IMG\nFROM ${IMG}\n", False),
    ("IF101", "FROM scratch\n", False),
    ("IF101", "FROM alpine:3.20 AS a\nFROM a\n", False),
    ("IF103", "FROM node:22\nUSER 1\n", True),
    ("IF103", "FROM node:22-alpine\nUSER 1\n", False),
    ("IF103", "FROM ubuntu:24.04 AS base\nFROM base\n", True),
    ("IF103", "FROM myorg/python:3.12\n", False),
    ("IF104", "FROM adoptopenjdk/openjdk11:latest\n", True),
    ("IF105", "FROM alpine:3.20 AS a\nCOPY --from=b /x /x\nFROM alpine:3.20 AS b\n", True),
    ("IF105", "FROM alpine:3.20\nCOPY --from=1 /x /x\nFROM alpine:3.20\n", True),
    ("IF105", "FROM alpine:3.20\nFROM alpine:3.20\nCOPY --from=0 /x /x\n", False),
    ("IF105", "FROM alpine:3.20\nCOPY --from=nginx:1.27 /etc/nginx /etc/nginx\n", False),
    ("IF201", "FROM python:3.12-slim\nCOPY . /app\nRUN pip install -r /app/req.txt\n", True),
    ("IF201", "FROM python:3.12-slim\nCOPY . /app\nRUN python -m compileall /app\n", False),
    (
        "IF201",
        "FROM golang:1.23\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\n",
        False,
    ),
    ("IF203", "FROM alpine:3.20\nCOPY repo.key /etc/apk/keys/\nRUN apk add --no-cache x\n", False),
    ("IF204", "FROM debian:12\nRUN apt-get update && apt-get upgrade -y\n", False),
    (
        "IF205",
        "FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt apt-get update "
        "&& apt-get install -y --no-install-recommends x\n",
        False,
    ),
    ("IF205", "FROM debian:12 AS b\nRUN apt-get update && apt-get install -y x\nFROM b\n", True),
    (
        "IF205",
        "FROM debian:12 AS b\nRUN apt-get update && apt-get install -y x\n"
        "FROM alpine:3.20\nCOPY --from=b /x /x\n",
        False,
    ),
    ("IF207", "FROM python:3.12\nENV PIP_NO_CACHE_DIR=1\nRUN pip install x==1\n", False),
    ("IF207", "FROM python:3.12\nRUN python3 -m pip install x==1\n", True),
    ("IF208", "FROM alpine:3.20\nRUN apk add x && rm -rf /var/cache/apk/*\n", False),
    ("IF209", "FROM alpine:3.20\nRUN apk add --no-cache a\nRUN echo hi\n", False),
    ("IF210", "FROM alpine:3.20\nADD https://example.org/x.tgz --checksum=sha256:ab /x\n", False),
    ("IF301", "FROM node:22-slim\nRUN npm install -g pnpm@9.12.0\n", False),
    ("IF301", "FROM node:22-slim\nRUN npm i\n", True),
    ("IF302", "FROM node:22-slim\nCOPY package*.json ./\nRUN npm ci\n", False),
    ("IF302", "FROM node:22-slim\nCOPY . .\nRUN npm ci\n", False),
    ("IF303", "FROM node:22-slim\nCOPY package.json yarn.lock ./\nRUN yarn\n", True),
    ("IF303", "FROM node:22-slim\nRUN yarn --version\n", False),
    ("IF303", "FROM node:22-slim\nRUN yarn install --immutable\n", False),
    ("IF304", "FROM node:22-slim\nENV NODE_ENV=production\nRUN npm ci\n", False),
    ("IF304", "FROM node:22-slim AS b\nRUN npm ci\nFROM nginx:1.27\nCOPY --from=b /d /d\n", False),
    ("IF304", "FROM python:3.12-slim\nRUN pip install -r requirements-dev.txt\n", True),
    ("IF304", "FROM python:3.12-slim\nRUN poetry install --without dev\n", False),
    ("IF305", "FROM python:3.12-slim\nRUN pip install -r requirements.txt\n", False),
    ("IF305", "FROM python:3.12-slim\nRUN pip install 'flask>=3'\n", True),
    ("IF305", "FROM python:3.12-slim\nRUN pip install -c constraints.txt flask\n", False),
    ("IF305", "FROM python:3.12-slim\nRUN pip install .\n", False),
    ("IF306", "FROM python:3.12-slim\nRUN pipenv install\n", True),
    ("IF306", "FROM python:3.12-slim\nRUN pipenv install --deploy --system\n", False),
    ("IF306", "FROM python:3.12-slim\nRUN pipenv sync\n", False),
    (
        "IF307",
        "FROM golang:1.23\nCOPY . .\nRUN --mount=type=cache,target=/go/pkg/mod go build .\n",
        False,
    ),
    ("IF308", "FROM gradle:8-jdk21\nCOPY . .\nRUN gradle build\n", True),
    ("IF309", "FROM debian:12\nRUN apt-get install -y curl=7.88.1-10 ./local.deb\n", False),
    ("IF309", "FROM ruby:3.3\nRUN gem install bundler\n", True),
    ("IF309", "FROM ruby:3.3\nRUN gem install bundler -v 2.5.0\n", False),
    ("IF401", "FROM maven:3.9\n", True),
    ("IF401", "FROM eclipse-temurin:21-jdk\nCOPY . .\nRUN ./mvnw package\n", True),
    ("IF401", "FROM eclipse-temurin:21-jre\nCOPY app.jar /app.jar\n", False),
    ("IF401", "FROM node:22-slim\nRUN npm run build\n", True),
    ("IF401", 'FROM node:22-slim\nCMD ["node", "server.js"]\n', False),
    (
        "IF402",
        "FROM alpine:3.20\n"
        "RUN apk add --no-cache --virtual .b gcc musl-dev && make && apk del .b\n",
        False,
    ),
    ("IF402", "FROM alpine:3.20\nRUN apk add --no-cache libpq-dev\n", True),
    ("IF402", "FROM golang:1.23\nRUN go build -o /app .\n", True),
    ("IF402", "FROM golang:1.23\nRUN --mount=type=cache,target=/root/.cache go build .\n", False),
    ("IF402", "FROM golang:1.23 AS b\nRUN go build .\nFROM alpine:3.20\n", False),
    ("IF105", "FROM alpine:3.20\nCOPY --from=biulder /app /app\n", True),
    ("IF501", "FROM alpine:3.20\nUSER app\nUSER root\n", True),
    ("IF501", "FROM alpine:3.20\nUSER 0:0\n", True),
    ("IF501", "FROM alpine:3.20 AS base\nUSER 1000\nFROM base\n", False),
    ("IF501", "FROM gcr.io/distroless/static-debian12:nonroot\n", False),
    ("IF502", "FROM alpine:3.20\nRUN echo sudo is a word\n", False),
    ("IF503", "FROM alpine:3.20\nCOPY --chmod=777 x /x\n", True),
    ("IF503", "FROM alpine:3.20\nRUN chmod -R a+rwx /data\n", True),
    ("IF503", "FROM alpine:3.20\nRUN chmod 755 /data\n", False),
    ("IF504", "FROM alpine:3.20\nARG NPM_TOKEN\n", True),
    ("IF504", "ARG GITHUB_TOKEN\nFROM alpine:3.20\n", True),
    ("IF504", "FROM alpine:3.20\nENV API_KEY=abc\n", True),
    ("IF504", "FROM alpine:3.20\nENV AWS=AKIAIOSFODNN7EXAMPLE\n", True),
    ("IF504", "FROM alpine:3.20\nENV GPG_KEYS=ABCDEF PASSWORD_FILE=/run/s\n", False),
    ("IF504", "FROM alpine:3.20\nENV TOKENIZERS_PARALLELISM=false\n", False),
    ("IF505", "FROM alpine:3.20\nADD https://github.com/a/b.git#v1.0 /src\n", False),
    ("IF506", "FROM alpine:3.20\nRUN wget -qO- https://x.org/i.sh | sudo bash\n", True),
    ("IF506", "FROM alpine:3.20\nRUN curl -fsSL https://x.org/k.asc | gpg --import\n", False),
    ("IF507", "FROM alpine:3.20\nEXPOSE 80 22/tcp\n", True),
    ("IF001", "FROM alpine:3.20\nFRM x\n", True),
    (
        "IF205",
        "FROM debian:13-slim\nRUN apt-get update && apt-get install -y --no-install-recommends "
        "curl=8.14.1-2 && apt-get dist-clean\n",
        False,
    ),
    # IF7xx, hadolint's DL rules (docs/hadolint-mapping.md)
    ("IF701", 'FROM a:1 AS x\nCMD ["a"]\nFROM b:1\nCMD ["b"]\n', False),
    ("IF702", 'FROM a:1\nENTRYPOINT ["a"]\nCMD ["b"]\n', False),
    ("IF703", "FROM alpine:3.20\nWORKDIR $HOME/app\n", False),
    ("IF703", "FROM alpine:3.20\nWORKDIR C:\\\\app\n", False),
    ("IF703", 'FROM alpine:3.20\nWORKDIR "app"\n', True),
    ("IF704", "FROM alpine:3.20\nRUN echo cd && make\n", False),
    ("IF704", "FROM alpine:3.20\nRUN make && cd /x && make\n", True),
    ("IF705", "FROM debian:12-slim\nRUN apt-get -qq install curl\n", False),
    ("IF705", "FROM debian:12-slim\nRUN apt-get install -qy curl\n", False),
    ("IF705", "FROM debian:12-slim\nRUN apt-get --yes install curl\n", False),
    ("IF705", "FROM debian:12-slim\nRUN apt-get update && apt-get install curl\n", True),
    ("IF706", "FROM debian:12-slim\nRUN useradd -u 1000 app\n", False),
    ("IF706", "FROM debian:12-slim\nRUN useradd --no-log-init --uid=1000000 app\n", False),
    ("IF706", "FROM debian:12-slim\nRUN useradd --uid=1000000 app\n", True),
    ("IF707", 'FROM alpine:3.20\nENTRYPOINT ["x"]\n', False),
    ("IF707", "FROM alpine:3.20\nENTRYPOINT x --y\n", True),
    ("IF708", "FROM alpine:3.20\nEXPOSE 8000-8010/udp 53/tcp\n", False),
    ("IF708", "ARG P=80\nFROM alpine:3.20\nEXPOSE ${P}\n", False),
    ("IF708", "FROM alpine:3.20\nEXPOSE 80 http\n", True),
    ("IF709", "FROM alpine:3.20 AS app\nCOPY --from=other /a /b\n", False),
    ("IF710", "FROM alpine:3.20\nRUN set -o pipefail && a | b\n", False),
    ("IF710", 'FROM alpine:3.20\nSHELL ["pwsh", "-c"]\nRUN a | b\n', False),
    ("IF710", "FROM alpine:3.20\nRUN a || b\n", False),
    ("IF710", 'FROM alpine:3.20\nRUN case "$A" in x86_64|aarch64) echo y ;; esac\n', False),
    ("IF710", 'FROM alpine:3.20\nRUN case "$A" in x) ls | wc -l ;; esac\n', True),
    (
        "IF710",
        'FROM a:1 AS x\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nFROM b:1\nRUN a | b\n',
        True,
    ),
    ("IF711", "FROM alpine:3.20\nLABEL maintainer=me\n", False),
]


@pytest.mark.parametrize(("rule_id", "text", "fires"), CASES)
def test_case(rule_id: str, text: str, fires: bool) -> None:
    assert (rule_id in ids(text)) is fires, ids(text)


def test_pip_requirements_are_read_when_the_context_is_known(tmp_path: Path) -> None:
    text = (
        "FROM python:3.12-slim\nCOPY app/requirements.txt /app/\n"
        "RUN pip install --no-cache-dir -r /app/requirements.txt\n"
    )
    loose = (
        "# deps\nflask>=3\nrequests==2.32.3 \\\n  --hash=sha256:ab\n"
        "-r base.txt\nuvicorn[standard]\n"
    )
    assert "IF305" not in ids(text)  # without a context nothing is known of the file
    assert "IF305" in ids_in_context(tmp_path / "a", text, (("app/requirements.txt", loose),))
    _shown, findings = lint_path(tmp_path / "a")
    (f,) = [f for f in findings if f.rule_id == "IF305"]
    assert "unpinned: flask, uvicorn[standard] in requirements.txt" in f.message
    pinned = "flask==3.0.3\nrequests==2.32.3\n"
    assert "IF305" not in ids_in_context(tmp_path / "b", text, (("app/requirements.txt", pinned),))


PY = "FROM python:3.12-slim\nWORKDIR /app\n"


@pytest.mark.parametrize(
    ("body", "fires"),
    [
        ("COPY . .\nRUN pip install --no-cache-dir -rrequirements.txt\n", True),
        ("COPY . .\nRUN pip install --no-cache-dir --requirement=requirements.txt\n", True),
        ("COPY . .\nRUN python3 -m pip install --no-cache-dir .\n", True),
        # dependencies installed from the manifest alone first: installing the project
        # itself after COPY . . is the guide's order, not a finding
        (
            "COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n"
            "COPY . .\nRUN pip install --no-cache-dir --no-deps .\n",
            False,
        ),
        (
            "COPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\n"
            "RUN npm install --no-save typescript@5.6.3 && npm ci\n",
            False,
        ),
        # a different package manager's install is still invalidated by the broad COPY
        (
            "COPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\nRUN npm ci\n",
            True,
        ),
    ],
)
def test_broad_copy_before_a_pip_install(body: str, fires: bool) -> None:
    assert ("IF201" in ids(PY + body)) is fires, ids(PY + body)


def test_cache_order_findings_point_at_the_copy_a_user_must_change() -> None:
    """IF201 and IF202 name the COPY line (the one to split), and say which install
    line it invalidates."""
    text = PY + "COPY src/ .\nRUN pip install --no-cache-dir -r requirements.txt\n"
    (f,) = [f for f in lint_source(text) if f.rule_id == "IF202"]
    assert f.location.line == 3
    assert "line 4" in f.message
    text = PY + "COPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n"
    (f,) = [f for f in lint_source(text) if f.rule_id == "IF201"]
    assert f.location.line == 3

"""Cases where imageforge disagreed with hadolint on the corpus, each pinned down."""

from __future__ import annotations

from tests.lint.conftest import ids


def test_pip_and_apk_caches_are_reported_in_builder_stages_too() -> None:
    text = (
        "FROM python:3.12-slim AS build\n"
        "COPY requirements.txt .\n"
        "RUN pip install -r requirements.txt\n"
        "FROM alpine:3.20 AS tools\n"
        "RUN apk add git=2.45.2-r0\n"
        "FROM python:3.12-slim\n"
        "COPY --from=build /usr/local /usr/local\n"
    )
    found = ids(text)
    assert "IF207" in found
    assert "IF208" in found


def test_apt_lists_are_only_checked_where_they_ship() -> None:
    text = (
        "FROM debian:12-slim AS build\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends gcc=1\n"
        "FROM debian:12-slim\n"
        "COPY --from=build /usr/bin/gcc /usr/bin/gcc\n"
    )
    assert "IF205" not in ids(text)


def test_every_apt_install_of_a_run_needs_no_install_recommends() -> None:
    text = (
        "FROM ubuntu:24.04\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends curl=1 \\\n"
        " && add-apt-repository ppa:x/y && apt-get update && apt-get install -y wireshark=2 \\\n"
        " && rm -rf /var/lib/apt/lists/*\n"
    )
    assert "IF206" in ids(text)


def test_commands_inside_if_then_are_read() -> None:
    text = (
        "FROM debian:12-slim\n"
        "RUN apt-get update && if true; then apt-get install -y --no-install-recommends "
        "curl=1; fi && rm -rf /var/lib/apt/lists/*\n"
    )
    found = ids(text)
    assert "IF204" not in found  # the install after `then` is seen
    text = "FROM debian:12-slim\nRUN if true; then apt-get install curl=1; fi\n"
    assert "IF705" in ids(text)


def test_a_simulated_apt_install_needs_no_y_and_no_recommends_flag() -> None:
    text = (
        'FROM debian:12-slim\nRUN if apt-get install -s "pkg" > /dev/null 2>&1; then echo yes; fi\n'
    )
    found = ids(text)
    assert "IF705" not in found
    assert "IF206" not in found


def test_a_pipe_inside_a_command_substitution_needs_pipefail() -> None:
    text = 'FROM debian:12-slim\nRUN a="$(dpkg --print-architecture | cut -d- -f1)"; echo "$a"\n'
    assert "IF710" in ids(text)
    text = 'FROM debian:12-slim\nRUN n="$(( 1 + 2 ))"; echo "$(date)"\n'
    assert "IF710" not in ids(text)


def test_a_brace_group_piped_into_tee_needs_pipefail() -> None:
    text = "FROM debian:12-slim\nRUN { echo a; echo b; } | tee /etc/x.conf\n"
    assert "IF710" in ids(text)


def test_consecutive_one_command_runs_are_reported_as_hadolint_does() -> None:
    found = ids("FROM alpine:3.20\nRUN mkdir /a\n# a comment does not separate\nRUN mkdir /b\n")
    assert found.count("IF712") == 1
    # a chain split over two RUNs is deliberate
    assert "IF712" not in ids("FROM alpine:3.20\nRUN mkdir /a\nRUN mkdir /b && chown 1 /b\n")
    # another instruction, or other flags, separate them
    assert "IF712" not in ids("FROM alpine:3.20\nRUN mkdir /a\nWORKDIR /a\nRUN mkdir /b\n")
    text = "FROM alpine:3.20\nRUN mkdir /a\nRUN --mount=type=cache,target=/c mkdir /b\n"
    assert "IF712" not in ids(text)


def test_npm_packages_need_a_version() -> None:
    assert "IF310" in ids("FROM node:22-slim\nRUN npm install -g @angular/cli\n")
    assert "IF310" in ids("FROM node:22-slim\nRUN npm install git+https://github.com/a/b.git\n")
    pinned = (
        "FROM node:22-slim\n"
        "RUN npm install -g @angular/cli@18.2.0 left-pad@1.3.0 ./local.tgz "
        "git+https://github.com/a/b.git#v1\n"
    )
    assert "IF310" not in ids(pinned)
    # installing package.json's dependencies names no package
    assert "IF310" not in ids("FROM node:22-slim\nCOPY package*.json ./\nRUN npm install\n")


def test_yum_and_dnf_packages_need_a_version() -> None:
    assert "IF309" in ids("FROM rockylinux:9\nRUN dnf install -y gzip python3-pip\n")
    assert "IF309" in ids("FROM ubi9/ubi-minimal\nRUN microdnf install -y tar\n")
    pinned = "FROM rockylinux:9\nRUN yum install -y gzip-1.12 ./x.rpm java-17-openjdk\n"
    assert "IF309" not in ids(pinned)


def test_copy_from_an_image_is_not_an_unknown_stage() -> None:
    # hadolint's DL3022 reports it; BuildKit accepts an image reference in --from
    text = "FROM alpine:3.20\nCOPY --from=gloursdocker/docker / /\n"
    assert "IF105" not in ids(text)
    assert "IF105" in ids("FROM alpine:3.20\nCOPY --from=build /a /a\n")


def test_go_tools_need_a_fixed_version() -> None:
    for bad in ("go install example.com/x", "go install example.com/x@latest", "go get a.b/c"):
        assert "IF311" in ids(f"FROM golang:1.23\nRUN {bad}\n"), bad
    assert "IF311" in ids("FROM golang:1.23\nRUN go run example.com/gen@master\n")
    for good in (
        "go install -v example.com/x@v1.2.3",
        "go install ./cmd/x",
        'go install "gotest.tools/gotestsum@${V}"',
        "go run make.go",
        "go mod download",
    ):
        assert "IF311" not in ids(f"FROM golang:1.23\nRUN {good}\n"), good


def test_copy_to_a_relative_destination_needs_a_workdir() -> None:
    assert "IF714" in ids("FROM alpine:3.20\nCOPY a.txt data/\n")
    assert "IF714" not in ids("FROM alpine:3.20\nCOPY a.txt /data/\nCOPY b.txt $HOME/\n")
    assert "IF714" not in ids("FROM alpine:3.20\nWORKDIR /srv\nCOPY a.txt data/\n")
    # the WORKDIR of the stage it is built FROM counts, a later one does not
    inherited = "FROM alpine:3.20 AS base\nWORKDIR /srv\nFROM base\nCOPY a.txt data/\n"
    assert "IF714" not in ids(inherited)
    assert "IF714" in ids("FROM alpine:3.20\nCOPY a.txt data/\nWORKDIR /srv\n")


def test_user_should_be_numeric() -> None:
    assert "IF508" in ids("FROM alpine:3.20\nUSER app:app\n")
    assert "IF508" in ids("FROM alpine:3.20 AS a\nUSER nonroot\nFROM alpine:3.20\nUSER 1\n")
    for fine in ("10001", "10001:app", "${UID}"):
        assert "IF508" not in ids(f"FROM alpine:3.20\nUSER {fine}\n"), fine


def test_copying_a_whole_filesystem_over_root() -> None:
    assert "IF715" in ids("FROM alpine:3.20\nCOPY --from=tonistiigi/xx / /\n")
    full = "FROM debian:12-slim AS build\nRUN true\nFROM debian:12-slim\nCOPY --from=build / /\n"
    assert "IF715" in ids(full)
    out = "FROM alpine:3.20 AS b\nRUN true\nFROM scratch AS out\nCOPY --from=b /o /\n"
    assert "IF715" not in ids(out + "FROM alpine:3.20\nCOPY --from=out / /\n")
    assert "IF715" not in ids("FROM alpine:3.20\nCOPY --from=tonistiigi/xx / /usr/bin/\n")

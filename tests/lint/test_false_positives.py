"""Well-written Dockerfiles lint clean of warnings and errors."""

from __future__ import annotations

import pytest

from imageforge.lint import lint_source
from imageforge.report import Severity

DIGEST = "@sha256:" + "0123456789abcdef" * 4

GOOD = {
    "go-distroless": f"""\
# syntax=docker/dockerfile:1
FROM golang:1.23-bookworm{DIGEST} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/app ./cmd/app

FROM gcr.io/distroless/static-debian12:nonroot{DIGEST}
COPY --from=build /out/app /app
USER 65532:65532
ENTRYPOINT ["/app"]
""",
    "python-slim": f"""\
FROM python:3.12-bookworm{DIGEST} AS build
RUN apt-get update \\
 && apt-get install -y --no-install-recommends gcc=4:12.2.0-3 libpq-dev=15.8-0+deb12u1 \\
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

FROM python:3.12-slim-bookworm{DIGEST}
RUN apt-get update \\
 && apt-get install -y --no-install-recommends libpq5=15.8-0+deb12u1 \\
 && rm -rf /var/lib/apt/lists/* \\
 && useradd --system --uid 10001 app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl
COPY --chown=10001:10001 src/ /app/
USER 10001
CMD ["python", "-m", "app"]
""",
    "node-slim": f"""\
FROM node:22-bookworm{DIGEST} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim{DIGEST}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=1000:1000 /app/node_modules ./node_modules
COPY --from=build --chown=1000:1000 /app/dist ./dist
USER 1000
CMD ["node", "dist/server.js"]
""",
    "java-jre": f"""\
FROM maven:3.9-eclipse-temurin-21{DIGEST} AS build
WORKDIR /src
COPY pom.xml .
RUN mvn -B dependency:go-offline
COPY src ./src
RUN mvn -B package -DskipTests

FROM eclipse-temurin:21-jre-alpine{DIGEST}
RUN addgroup -S -g 10001 app && adduser -S -u 10001 -G app app
COPY --from=build /src/target/app.jar /app/app.jar
USER 10001
ENTRYPOINT ["java", "-jar", "/app/app.jar"]
""",
    "alpine-static": f"""\
FROM rust:1.82-alpine{DIGEST} AS build
RUN apk add --no-cache musl-dev=1.2.5-r0
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked

FROM scratch
COPY --from=build /src/target/release/app /app
USER 65534
ENTRYPOINT ["/app"]
""",
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_well_written_multi_stage_has_no_warning_or_error(name: str) -> None:
    bad = [
        f"{f.rule_id} line {f.location.line}: {f.message}"
        for f in lint_source(GOOD[name])
        if f.severity.at_least(Severity.WARNING)
    ]
    assert bad == []


def test_pinned_final_stages_have_no_info_either() -> None:
    findings = lint_source(GOOD["go-distroless"])
    assert findings == []

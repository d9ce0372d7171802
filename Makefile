# imageforge: `make demo` and `make test` work on a fresh Debian machine as root.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Debian packages imageforge and its tests use: OCI runtimes, peer tools that check our
# images (skopeo, umoci, podman, buildah), base-image sources (busybox-static,
# debootstrap), qemu-user for foreign-architecture RUN, a reference registry, and
# PostgreSQL (the registry's shared metadata store; its tests start a throwaway cluster),
# and what the SBOM catalogers' tests build their fixtures with: nodejs (npm, which the
# nodejs package of this machine image carries), Go and a vendored Go module, gcc and
# binutils (objcopy) for a cargo-auditable ELF, Maven's real-world jars and the JDK's jar;
# the enforcer's dependency conflict in tests/lifecycle/test_doctor.py reads two plexus
# libraries' poms from Debian's maven-repo.
# The sandbox of RUN steps: slirp4netns (the private network) and
# golang-github-containers-common (the seccomp profile, /usr/share/containers/seccomp.json);
# libc6-dev links the tests' static probe of that sandbox.
# The vulnerability scanner's version orders are checked against each ecosystem's own
# tool: libdpkg-perl (Dpkg::Version), node-semver, ruby (Gem::Version), rpm, maven's
# ComparableVersion (maven, default-jdk-headless). strace kills a process at a chosen
# system call (tests/registry/test_killed.py: a gc killed between its trash and delete).
# haproxy balances registry replicas in tests/registry/test_ha.py (the service the
# package installs is not needed: the tests run their own haproxy on loopback).
# curl fetches large blobs whole and in ranges in tests/registry/test_blob_sendfile.py.
DEB_PACKAGES := python3-venv runc crun skopeo umoci buildah podman busybox-static \
	debootstrap shellcheck docker-registry uidmap fuse-overlayfs qemu-user-static \
	binfmt-support util-linux iproute2 postgresql rpm db5.3-util \
	nodejs golang-go golang-github-pkg-errors-dev golang-github-opencontainers-go-digest-dev \
	gcc binutils maven default-jdk-headless libmaven-enforcer-plugin-java libplexus-build-api-java \
	libplexus-sec-dispatcher-java dpkg-dev \
	slirp4netns golang-github-containers-common libc6-dev \
	libdpkg-perl node-semver ruby strace \
	chromium chromium-driver haproxy curl
DEMO_ROOT ?= $(CURDIR)/.demo-root

.PHONY: setup system-packages host-setup venv demo demo-registry test lint typecheck imports pytest clean docs

setup: system-packages host-setup venv

# Installs only what is missing, so a second run is quick and offline.
system-packages:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "setup: not root, skipping Debian packages: $(DEB_PACKAGES)"; exit 0; fi; \
	missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
			|| missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "setup: apt-get install$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# binfmt_misc lets the kernel hand foreign-architecture binaries to qemu-user.
# /dev/net/tun gets the mode Debian's udev rules give it (0666; a machine without udev
# leaves it 0600): slirp4netns opens it for a rootless user's private network.
host-setup:
	@if [ "$$(id -u)" = 0 ] && [ ! -e /proc/sys/fs/binfmt_misc/status ]; then \
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
			&& update-binfmts --enable >/dev/null 2>&1 || true; fi
	@if [ "$$(id -u)" = 0 ] && [ -c /dev/net/tun ] \
		&& [ "$$(stat -c %a /dev/net/tun)" != 666 ]; then chmod 0666 /dev/net/tun; fi

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

IF := $(BIN)/imageforge --root $(DEMO_ROOT)
DEMO_OUT ?= $(CURDIR)/.demo-out

demo: setup
	$(IF) system check
	rm -rf $(DEMO_OUT) && mkdir -p $(DEMO_OUT)
	$(IF) import rootfs:examples/hello-rootfs -t hello:1
	$(IF) images
	$(IF) inspect hello:1
	$(IF) export hello:1 oci:$(DEMO_OUT)/hello-oci:1
	$(IF) export hello:1 docker-archive:$(DEMO_OUT)/hello.tar
	skopeo inspect oci:$(DEMO_OUT)/hello-oci:1
	# The main job: a base image without a registry, a daemonless build, a run.
	$(IF) bootstrap busybox -t busybox:latest
	$(IF) build examples/hello-build -t hello-build:1 --progress plain \
		--output docker-archive:$(DEMO_OUT)/hello-build.tar
	$(IF) run --rm hello-build:1
	$(IF) run --rm hello-build:1 demo-user
	$(IF) inspect hello-build:1
	$(MAKE) --no-print-directory demo-registry
	# Multi-stage (guide 2.2): Debian + golang-go build stage, scratch final stage.
	$(IF) bootstrap debian --slim -t debian:bookworm
	$(IF) build examples/go-service --target build -t go-builder:1 --progress plain
	$(IF) build examples/go-service -t go-service:1 --progress plain
	$(IF) images
	$(IF) run -p 8080:8080 go-service:1 & pid=$$!; \
	$(BIN)/python -c "import httpx,time;\
	exec('for _ in range(100):\n try:\n  print(httpx.get(\'http://127.0.0.1:8080/\').text, end=\'\'); break\n except httpx.HTTPError: time.sleep(0.2)')"; \
	kill -TERM $$pid; wait $$pid || true
	# Multi-platform (guide 5.1): the build stage cross-compiles natively for each target;
	# the arm64 image runs under qemu-user.
	$(IF) build examples/go-service --platform linux/amd64,linux/arm64 -t go-service:multi --progress plain
	$(IF) inspect go-service:multi --platform linux/arm64
	$(IF) run --platform linux/arm64 -p 8081:8080 go-service:multi & pid=$$!; \
	$(BIN)/python -c "import httpx,time;\
	exec('for _ in range(100):\n try:\n  print(httpx.get(\'http://127.0.0.1:8081/\').text, end=\'\'); break\n except httpx.HTTPError: time.sleep(0.2)')"; \
	kill -TERM $$pid; wait $$pid || true

# The registry client: a local imageforge registry in the background (stopped at the
# end, also on failure), the demo image pushed to it, pulled back under another name.
REG_DATA := $(DEMO_ROOT)/registry-data
demo-registry: setup
	@set -e; mkdir -p $(DEMO_OUT); rm -rf $(REG_DATA); \
	port=$$($(BIN)/python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"); \
	reg=127.0.0.1:$$port; \
	IMAGEFORGE_ADMIN_PASSWORD=demo-admin $(BIN)/imageforge registry serve --addr $$reg \
		--data-dir $(REG_DATA) >$(DEMO_OUT)/registry.log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null || true' EXIT; \
	$(BIN)/python -c "import httpx,time;\
	exec('for _ in range(100):\n try:\n  httpx.get(\'http://$$reg/v2/\'); break\n except httpx.HTTPError: time.sleep(0.1)')"; \
	export REGISTRY_AUTH_FILE=$(DEMO_OUT)/auth.json; set -x; \
	echo demo-admin | $(IF) login $$reg -u admin --password-stdin --tls-verify=false; \
	$(IF) push hello-build:1 docker://$$reg/library/hello-build:1 --tls-verify=false; \
	$(IF) copy docker://$$reg/library/hello-build:1 docker://$$reg/library/hello-build:latest \
		--tls-verify=false; \
	$(IF) ls-tags docker://$$reg/library/hello-build --tls-verify=false; \
	rm -rf $(DEMO_OUT)/pulled; \
	$(BIN)/imageforge --root $(DEMO_OUT)/pulled pull docker://$$reg/library/hello-build:1 \
		--tls-verify=false; \
	$(BIN)/imageforge --root $(DEMO_OUT)/pulled copy docker://$$reg/library/hello-build:1 \
		hello-pulled:1 --tls-verify=false; \
	$(BIN)/imageforge --root $(DEMO_OUT)/pulled images; \
	$(BIN)/imageforge --root $(DEMO_OUT)/pulled run --rm hello-pulled:1; \
	$(IF) logout $$reg

# One page per lint rule and per image check, the secret rules and the licence categories,
# and the counts the README states, generated from the code (tests check all are current).
docs: venv
	$(BIN)/python -c "from imageforge.lint import write_rule_docs; write_rule_docs('docs/rules')"
	$(BIN)/python -c "from imageforge.misconfig import write_check_docs; write_check_docs('docs/misconfig')"
	$(BIN)/python -c "from imageforge.secrets import write_rules_page; write_rules_page('docs/secrets.md')"
	$(BIN)/python -c "from imageforge.licenses import write_categories_page; write_categories_page('docs/licenses.md')"
	$(BIN)/python -c "import pathlib; from imageforge.lint import readme_counts, update_counts;\
	p = pathlib.Path('README.md'); p.write_text(update_counts(p.read_text(), readme_counts()))"

lint:
	$(BIN)/ruff check src tests benchmarks fuzz
	$(BIN)/ruff format --check src tests benchmarks fuzz

typecheck:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

# pytest exits 5 when it collected no test: that is a failure here, never a pass.
# The slowest tests are listed, so CI's log shows where its time goes. The suite runs
# in PYTEST_WORKERS processes (pytest-xdist), a test file at a time each, so a file's
# module-scoped servers start once; PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?= --durations=25 -n $(PYTEST_WORKERS) --dist loadfile
pytest:
	@set +e; $(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc = 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

test: setup lint typecheck imports pytest

clean:
	rm -rf $(VENV) $(DEMO_ROOT) $(DEMO_OUT) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache

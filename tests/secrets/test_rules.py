"""The secret rules on files: every planted secret found with its line, nothing else;
nothing printed holds a secret; placeholders, examples and allowed paths are not
findings; big files are read in windows; binary, huge and bad input are warnings."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from imageforge.errors import InvalidArgument
from imageforge.policy import load_policy
from imageforge.report import format_text, to_sarif, write_github
from imageforge.secrets import (
    BUILTIN_RULES,
    SecretConfig,
    SecretScanResult,
    scan_directory,
    secret_config,
)
from imageforge.secrets._engine import OVERLAP, WINDOW
from tests.secrets.corpus import Sample


def _write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _found(result: SecretScanResult) -> set[tuple[str, str, int]]:
    return {(f.rule_id, f.path, f.line) for f in result.findings}


def _outputs(result: SecretScanResult) -> str:
    report = result.to_report("0.0.0")
    github = io.StringIO()
    write_github(report, github)
    return "\n".join(
        [
            json.dumps(result.to_json()),
            format_text(report),
            json.dumps(to_sarif(report)),
            github.getvalue(),
            *(f.message() for f in result.findings),
        ]
    )


def test_every_rule_has_a_planted_sample(planted: list[Sample]) -> None:
    assert {s.rule for s in planted} == {r.id for r in BUILTIN_RULES}


def test_every_planted_secret_is_found_at_its_line_and_nothing_else(
    planted_dir: Path, planted: list[Sample]
) -> None:
    result = scan_directory(planted_dir)

    assert _found(result) == {(s.rule, s.path, s.line) for s in planted}
    assert result.warnings == []
    by_rule = {f.rule_id: f for f in result.findings}
    assert by_rule["github-pat"].secret.startswith("ghp_*")  # the public prefix, no more
    assert by_rule["aws-access-key-id"].severity == "CRITICAL"
    key = next(f for f in result.findings if f.path == "etc/ssl/private/server.key")
    assert key.match == "-----BEGIN RSA PRIVATE KEY-----"


def test_no_output_holds_a_secret(
    planted_dir: Path, planted: list[Sample], sarif_schema: dict[str, Any]
) -> None:
    result = scan_directory(planted_dir)
    text = _outputs(result)

    leaked = [s.rule for s in planted if s.secret in text]
    assert leaked == []
    assert "*****" in text
    sarif = to_sarif(result.to_report("0.0.0"))
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert len(results) == len(result.findings)
    assert {r["properties"]["scanSeverity"] for r in results} >= {"CRITICAL", "HIGH"}
    assert all("security-severity" in r["properties"] for r in results)


def test_json_shape(planted_dir: Path) -> None:
    doc = scan_directory(planted_dir).to_json()
    first = doc["secrets"][0]
    assert set(first) >= {
        "rule",
        "category",
        "severity",
        "title",
        "file",
        "line",
        "match",
        "layer",
        "visible",
        "hiddenBy",
    }
    assert doc["secretScan"]["stats"]["files"] > 30


@pytest.mark.parametrize(
    "path, content",
    [
        ("srv/app/.env", "DB_PASSWORD=${DB_PASSWORD}\nAPI_TOKEN=changeme\nSECRET_KEY=<secret>\n"),
        ("srv/app/.env.prod", "PASSWORD_FILE=/run/secrets/db\nTOKEN_TTL=3600\nSECRET=\n"),
        ("srv/app/settings.py", 'URL = "postgres://user:password@localhost/db"\n'),
        ("srv/app/aws.cfg", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"),
        ("srv/app/token.txt", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"),
        (
            "srv/app/key.txt",
            "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n",
        ),
        ("srv/app/notjwt.txt", "eyJhbGciOiJub25lIn0x.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlc2ln\n"),
        ("srv/app/words.txt", "the laws of physics say a token is a key to the password\n"),
        ("srv/app/sub/xghp_AbcdefghijklmnopqrstuvwxyzABCDEFGHIJ", "in a name only\n"),
        ("srv/app/midword.txt", "prefixghp_AbcdefghijklmnopqrstuvwxyzABCDEFGHIJ\n"),
    ],
)
def test_placeholders_examples_and_look_alikes_are_not_findings(
    tmp_path: Path, path: str, content: str
) -> None:
    _write(tmp_path, path, content)
    assert scan_directory(tmp_path).findings == []


def test_built_in_allow_rules_skip_tests_examples_docs_and_system_dirs(
    tmp_path: Path, planted: list[Sample]
) -> None:
    token = next(s for s in planted if s.rule == "github-pat")
    line = f"GH={token.secret}\n"
    for rel in (
        "srv/app/tests/conf.sh",
        "srv/examples/run.sh",
        "srv/README.md",
        "usr/share/doc/x/conf",
        "usr/lib/python3/dist-packages/x.py",
        "srv/app/x_test.go",
    ):
        _write(tmp_path, rel, line)
    _write(tmp_path, "srv/app/run.sh", line)

    result = scan_directory(tmp_path)

    assert _found(result) == {("github-pat", "srv/app/run.sh", 1)}
    assert result.stats.allowed == 6


def test_a_secret_across_window_boundaries_is_found_once_with_its_line(
    tmp_path: Path, planted: list[Sample]
) -> None:
    key = next(s for s in planted if s.path == "etc/ssl/private/server.key")
    token = next(s for s in planted if s.rule == "github-pat").secret
    filler_line = b"x" * 99 + b"\n"
    # the key starts 300 bytes before the end of the first window, the token crosses the
    # end of the second, a third token sits in the overlap of the third
    before = WINDOW - 300
    head = filler_line * (before // 100) + b"y" * (before % 100)
    mid = filler_line * ((2 * WINDOW - len(head) - len(key.content) - 20) // 100)
    body = head + key.content + mid
    body += b"z" * (2 * WINDOW - len(body) - 10) + b"\n" + token.encode() + b"\n"
    body += filler_line * ((WINDOW - OVERLAP // 2) // 100) + token.encode() + b"\n"
    body += filler_line * 50
    _write(tmp_path, "srv/app/big.log", body)

    result = scan_directory(tmp_path)

    def line_of(offset: int) -> int:
        return body.count(b"\n", 0, offset) + 1

    expected = {
        ("private-key", "srv/app/big.log", line_of(len(head))),
        ("github-pat", "srv/app/big.log", line_of(body.index(token.encode()))),
        ("github-pat", "srv/app/big.log", line_of(body.rindex(token.encode()))),
    }
    assert _found(result) == expected
    assert len(result.findings) == 3


def test_binary_files_are_skipped_and_key_material_is_named(
    tmp_path: Path, planted: list[Sample]
) -> None:
    token = next(s for s in planted if s.rule == "github-pat").secret.encode()
    _write(tmp_path, "srv/app/blob.bin", b"\x7fELF\0\0" + token + b"\0" * 100)
    _write(tmp_path, "etc/ssl/private/server.der", b"\x30\x82\x04\xa4\x02\x01\x00" * 50)

    result = scan_directory(tmp_path)

    assert result.findings == []
    assert result.stats.binary == 2
    assert len(result.warnings) == 1
    assert "etc/ssl/private/server.der: binary" in result.warnings[0]


def test_a_huge_file_is_named_and_the_rest_is_scanned(
    tmp_path: Path, planted: list[Sample]
) -> None:
    token = next(s for s in planted if s.rule == "github-pat").secret
    _write(tmp_path, "srv/app/huge.log", ("GH=" + token + "\n") * 5000)
    _write(tmp_path, "srv/app/run.sh", f"GH={token}\n")
    policy = load_policy(
        _write(tmp_path / "p", "imageforge.toml", '[scan.secrets]\nmax-file-size = "64kB"\n')
    )

    result = scan_directory(tmp_path / "srv", secret_config(policy.scan.secrets))

    assert _found(result) == {("github-pat", "app/run.sh", 1)}
    assert result.stats.too_big == 1
    assert len(result.warnings) == 1
    assert "app/huge.log" in result.warnings[0] and "max-file-size" in result.warnings[0]


def test_a_file_that_cannot_be_read_is_named_and_the_rest_is_scanned(
    tmp_path: Path, planted: list[Sample]
) -> None:
    token = next(s for s in planted if s.rule == "github-pat").secret
    _write(tmp_path, "srv/run.sh", f"GH={token}\n")
    gone = _write(tmp_path, "srv/vanishing.txt", "x")
    # a directory entry whose file cannot be opened (root reads any mode, so make the
    # name point at nothing a regular open can read: a dangling entry is not regular,
    # so replace the file by one that raises on read)
    os.unlink(gone)
    os.mkfifo(gone)  # not a regular file: never opened, never blocks
    _write(tmp_path, "srv/deep/x.txt", "nothing\n")
    os.chmod(tmp_path / "srv/deep", 0)
    try:
        result = scan_directory(tmp_path)
    finally:
        os.chmod(tmp_path / "srv/deep", 0o755)
    assert _found(result) == {("github-pat", "srv/run.sh", 1)}
    if os.geteuid() != 0:  # root lists any directory
        assert any("srv/deep" in w for w in result.warnings)


def test_policy_allow_rules_disable_rules_and_custom_rules(
    tmp_path: Path, planted: list[Sample]
) -> None:
    gh = next(s for s in planted if s.rule == "github-pat").secret
    sk = next(s for s in planted if s.rule == "stripe-secret-token").secret
    root = tmp_path / "root"
    _write(root, "srv/app/fixtures/seed.sh", f"GH={gh}\n")
    _write(root, "srv/app/billing.js", f'stripe("{sk}")\n')
    _write(root, "srv/app/tests/ci.sh", f"GH={gh}\n")
    _write(root, "srv/app/acme.conf", "acme_token = acme_0123456789abcdefghijklmnopqrstuv\n")
    _write(
        root, "srv/app/jwt.txt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl\n"
    )
    policy_file = _write(
        tmp_path,
        "imageforge.toml",
        """
[scan.secrets]
disable-rules = ["jwt-token"]
disable-allow-rules = ["tests"]

[[scan.secrets.allow]]
id = "seed-data"
path = '^srv/app/fixtures/'

[[scan.secrets.allow]]
regex = '^sk_live_'
rules = ["stripe-secret-token"]

[[scan.secrets.rules]]
id = "acme-token"
regex = 'acme_token\\s*=\\s*(?P<secret>acme_[a-z0-9]{32})'
keywords = ["acme_"]
severity = "medium"
title = "Acme API token"
""",
    )
    config = secret_config(load_policy(policy_file).scan.secrets)

    result = scan_directory(root, config)

    assert _found(result) == {
        ("github-pat", "srv/app/tests/ci.sh", 1),  # the built-in "tests" allow rule is off
        ("acme-token", "srv/app/acme.conf", 1),
    }
    acme = next(f for f in result.findings if f.rule_id == "acme-token")
    assert acme.severity == "MEDIUM" and acme.title == "Acme API token"
    assert "acme_0123456789" not in _outputs(result)


def test_trivy_secret_yaml_is_read(tmp_path: Path) -> None:
    """trivy's shape: Go syntax (a flag group in the middle, (?P<secret>)), keywords,
    a list of paths, a rule's allow-rules and exclude-block, global allow-rules."""
    root = tmp_path / "root"
    _write(
        root,
        "srv/app/deploy.sh",
        "export P8E=p8e-AbCdEf0123456789abcdef0123456789\n"
        "export P8E_DOC=p8e-Z0000000000000000000000000000000\n",
    )
    _write(root, "srv/app/notes.txt", "p8e-AbCdEf0123456789abcdef0123456789\n")
    _write(root, "srv/app/skip.sh", "BEGIN-IGNORE\np8e-AbCdEf0123456789abcdef0123456789\nEND\n")
    trivy = _write(
        tmp_path,
        "trivy-secret.yaml",
        r"""
rules:
  - id: adobe-client-secret-custom
    category: Adobe
    title: Adobe Client Secret
    severity: HIGH
    regex: (?P<secret>(p8e-)(?i)[a-z0-9]{32})
    keywords:
      - p8e-
    path:
      - .*\.sh
      - .*\.cfg
    allow-rules:
      - id: zeros
        regex: p8e-Z0+
    exclude-block:
      description: ignored blocks
      regexes:
        - BEGIN-IGNORE[\s\S]*?END
allow-rules:
  - id: notes
    path: notes\.txt$
disable-rules:
  - jwt-token
""",
    )

    result = scan_directory(root, secret_config(trivy_config=trivy))

    assert _found(result) == {("adobe-client-secret-custom", "srv/app/deploy.sh", 1)}
    assert result.findings[0].severity == "HIGH"


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[[scan.secrets.rules]]\nid = "x"\nregex = "a(b"\n', "secret rule x"),
        ('[[scan.secrets.rules]]\nid = "x"\nregex = "\\\\p{Greek}"\n', "Unicode classes"),
        ('[scan.secrets]\ndisable-rules = ["no-such-rule"]\n', "unknown secret rule no-such-rule"),
        ('[[scan.secrets.rules]]\nid = "github-pat"\nregex = "x"\n', "defined twice"),
    ],
)
def test_a_bad_rule_is_an_error_naming_it(tmp_path: Path, toml: str, message: str) -> None:
    policy = load_policy(_write(tmp_path, "imageforge.toml", toml))
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        secret_config(policy.scan.secrets)


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[scan.secrets]\nmax-file-size = "lots"\n', "not a size"),
        ('[scan.secrets]\ncolour = "red"\n', "unknown key colour"),
        ("[[scan.secrets.allow]]\n", "allows everything"),
        ('[[scan.secrets.rules]]\nid = "x"\nregex = "y"\nseverity = "dire"\n', "unknown severity"),
        ('[[scan.secrets.rules]]\nregex = "y"\n', "rules.0.id is required"),
    ],
)
def test_bad_policy_settings_are_refused(tmp_path: Path, toml: str, message: str) -> None:
    path = _write(tmp_path, "imageforge.toml", toml)
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        secret_config(load_policy(path).scan.secrets)


def test_a_bad_trivy_secret_yaml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "trivy-secret.yaml", "rules:\n  - id: x\n    regex: [unclosed\n")
    with pytest.raises(InvalidArgument) as err:
        secret_config(trivy_config=path)
    assert str(path) in str(err.value)


def test_the_default_config_is_the_built_in_rules() -> None:
    assert SecretConfig().rules == BUILTIN_RULES
    assert secret_config().rules == BUILTIN_RULES


def test_the_rules_page_is_current_and_names_every_rule() -> None:
    from imageforge.secrets import rules_page

    page = Path(__file__).resolve().parents[2] / "docs" / "secrets.md"
    assert page.read_text() == rules_page(), "run `make docs`"
    for rule in BUILTIN_RULES:
        assert f"\n### {rule.id}\n" in page.read_text()


def test_the_compiled_rules_cache_survives_a_damaged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: list[Sample]
) -> None:
    from imageforge.secrets._engine import Engine

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    token = next(s for s in planted if s.rule == "github-pat").secret.encode()
    every = frozenset(range(len(BUILTIN_RULES)))
    first = Engine(BUILTIN_RULES, ())
    (cached,) = (tmp_path / "cache" / "imageforge").glob("secrets-*.hsdb")
    cached.write_bytes(b"not a database")

    again = Engine(BUILTIN_RULES, ())  # the damaged file is compiled anew and replaced

    for engine in (first, again):
        assert [h.rule.id for h in engine.scan_text(b"GH=" + token, every, "x.sh")] == [
            "github-pat"
        ]
    assert cached.read_bytes() != b"not a database"

from __future__ import annotations

from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.lint import active_rules, lint_source, make_report, rule
from imageforge.policy import LintPolicy
from imageforge.report import Severity
from tests.lint.conftest import ids

ROOT = "FROM alpine:3.20\nRUN apk add --no-cache curl\n"


def test_inline_ignore_on_the_line_before() -> None:
    text = "# imageforge: ignore=IF102, IF501\nFROM alpine:3.20\n"
    assert ids(text) == []


def test_inline_ignore_covers_only_the_next_instruction() -> None:
    text = "# imageforge: ignore=IF309\nFROM alpine:3.20\nRUN apk add --no-cache x\n"
    assert "IF309" in ids(text)


def test_inline_ignore_survives_other_comments_between() -> None:
    text = (
        "FROM alpine:3.20\n# imageforge: ignore=IF309\n# why: pinned by the base\n"
        "RUN apk add --no-cache curl\n"
    )
    assert "IF309" not in ids(text)


def test_ignore_for_another_rule_does_not_silence() -> None:
    text = "FROM alpine:3.20\n# imageforge: ignore=IF101\nRUN apk add --no-cache curl\n"
    assert "IF309" in ids(text)


def test_disable_and_enable_by_prefix() -> None:
    assert ids(ROOT, LintPolicy(disable=("IF3", "IF102"))) == ["IF501"]
    assert ids(ROOT, LintPolicy(enable=("IF5",))) == ["IF501"]


def test_severity_override() -> None:
    policy = LintPolicy(severity=(("IF501", "error"),))
    (found,) = [f for f in lint_source(ROOT, policy=policy) if f.rule_id == "IF501"]
    assert found.severity is Severity.ERROR
    report = make_report([found], ["Dockerfile"], policy)
    (info,) = [r for r in report.rules if r.id == "IF501"]
    assert info.severity is Severity.ERROR


def test_active_rules_default_is_every_rule() -> None:
    assert len(active_rules(LintPolicy())) == len({r for r, _ in active_rules(LintPolicy())})
    assert rule("IF501") is rule("final-user-root")


def test_findings_carry_location_snippet_and_hint() -> None:
    (f,) = [f for f in lint_source(ROOT, file="x/Dockerfile") if f.rule_id == "IF309"]
    assert (f.location.file, f.location.line, f.location.column) == ("x/Dockerfile", 2, 1)
    assert f.snippet == "RUN apk add --no-cache curl"
    assert f.hint and "curl=8.9.1-r0" in f.hint
    assert "unpinned: curl" in f.message


def test_syntax_error_is_a_located_finding() -> None:
    (f,) = lint_source("FROM alpine:3.20\nFRM x\n")
    assert f.rule_id == "IF001" and f.location.line == 2 and f.severity is Severity.ERROR
    assert "FROM" in (f.hint or "")


def test_hadolint_ignore_comment_acts_through_the_mapping() -> None:
    text = "FROM alpine:3.20\n# hadolint ignore=DL3003,SC2046\nRUN cd /tmp && touch x\n"
    assert "IF704" not in ids(text)
    assert "IF704" in ids(text.replace("DL3003", "DL3000"))


def test_hadolint_global_ignore_silences_the_whole_file() -> None:
    text = (
        "# hadolint global ignore=DL3025\nFROM alpine:3.20 AS a\nCMD echo a\n"
        "FROM alpine:3.20\nCMD echo b\n"
    )
    assert "IF707" not in ids(text)
    assert ids(text).count("IF707") == 0
    assert "IF707" in ids(text.replace("global ignore=DL3025", "nothing"))


def test_shellcheck_findings_keep_their_sc_ids_and_honour_ignores() -> None:
    text = "FROM alpine:3.20\nRUN echo $(ls) && rm $FILES\n"
    found = ids(text)
    assert "SC2046" in found
    assert "SC2046" not in ids(text.replace("RUN", "# hadolint ignore=SC2046\nRUN"))
    assert "SC2046" not in ids(text, LintPolicy(disable=("SC2046",)))
    assert "SC2046" not in ids('FROM alpine:3.20\nSHELL ["pwsh", "-c"]\nRUN echo $(ls)\n')


def test_shellcheck_sees_args_and_env_as_set() -> None:
    text = "FROM alpine:3.20\nARG lower\nRUN echo $lower\n"
    assert "SC2154" not in ids(text)
    assert "SC2154" in ids("FROM alpine:3.20\nRUN echo $lower\n")


def test_shellcheck_batch_puts_each_finding_on_its_run() -> None:
    from imageforge.dockerfile import parse
    from imageforge.lint._shellcheck import shellcheck_runs

    text = "FROM alpine:3.20\n" + "".join(f"RUN echo $(ls {n})\n" for n in range(50))
    comments = shellcheck_runs(parse(text))
    assert {c.line for c in comments if c.code == "SC2046"} == set(range(2, 52))


def test_shellcheck_reads_heredoc_runs_as_scripts() -> None:
    text = "FROM alpine:3.20\nRUN <<EOF\napk update\necho $(ls)\nEOF\n"
    found = ids(text)
    assert "SC1072" not in found and "SC2046" in found
    piped = "FROM alpine:3.20\nRUN cat <<EOF > /x\nhello\nEOF\n"
    assert not [i for i in ids(piped) if i.startswith("SC")]


def test_hadolint_shell_comment_sets_the_shell_for_the_runs_below() -> None:
    piped = "RUN curl -fsSL https://x | tar xz\n"
    assert "IF710" in ids("FROM debian:12-slim\n" + piped)
    # a PowerShell stage has no pipefail to set and is not ShellCheck's business
    text = "FROM debian:12-slim\n# hadolint shell=powershell\nRUN echo $(ls) | Out-Null\n"
    found = ids(text)
    assert "IF710" not in found and "SC2046" not in found
    # a later SHELL takes over again
    text = '# hadolint shell=pwsh\nFROM debian:12-slim\nSHELL ["/bin/sh", "-c"]\n' + piped
    assert "IF710" in ids(text)
    # the shell given is ShellCheck's dialect: [[ ]] is fine in bash, not in sh
    posix = "FROM debian:12-slim\nRUN [[ -n $HOME ]] && echo yes\n"
    assert "SC3010" in ids(posix)
    assert "SC3010" not in ids(posix.replace("RUN", "# hadolint shell=bash\nRUN"))


def test_strict_labels_report_keys_outside_the_schema(tmp_path: Path) -> None:
    from imageforge.lint import hadolint_policy

    text = "FROM alpine:3.20\nLABEL org.opencontainers.image.source=x owner=me\n"
    schema = ("org.opencontainers.image.source",)
    assert "IF713" not in ids(text, LintPolicy(required_labels=schema))
    assert "IF713" in ids(text, LintPolicy(required_labels=schema, strict_labels=True))
    cfg = tmp_path / ".hadolint.yaml"
    cfg.write_text("label-schema:\n  org.opencontainers.image.source: url\nstrict-labels: true\n")
    policy = hadolint_policy(cfg)
    assert policy.strict_labels and "IF713" in ids(text, policy)
    assert "IF713" not in ids(text.replace(" owner=me", ""), policy)
    cfg.write_text("strict-labels: maybe\n")
    with pytest.raises(InvalidArgument, match="strict-labels"):
        hadolint_policy(cfg)


def test_lint_paths_finds_what_lint_path_finds_file_by_file(tmp_path: Path) -> None:
    from imageforge.lint import lint_path, lint_paths

    texts = [
        "FROM alpine:3.20\nRUN echo $(ls) && rm $FILES\n",
        "# hadolint shell=bash\nFROM debian:12-slim\nRUN [[ -n $HOME ]] | cat\n",
        "FROM alpine:3.20\nRUN echo 'fine'\n",
        "FRM broken\n",
    ]
    paths = []
    for n, text in enumerate(texts):
        path = tmp_path / f"D{n}"
        path.write_text(text)
        paths.append(path)
    together = lint_paths(paths)
    assert [shown for shown, _f in together] == [str(p) for p in paths]
    assert [found for _s, found in together] == [lint_path(p)[1] for p in paths]
    assert "SC2046" in {f.rule_id for f in together[0][1]}

"""Attestation policies: the TOML shape, each test on a predicate's content, and the
errors a mistaken policy gets (naming the rule and the file)."""

from __future__ import annotations

from typing import Any

import pytest

from imageforge.errors import InvalidArgument
from imageforge.oci import digest_bytes
from imageforge.sign import (
    AttestationPolicy,
    Statement,
    Subject,
    VerificationFailed,
    predicate_type,
)

IMAGE = digest_bytes(b"image")


def _statement(kind: str, predicate: Any) -> Statement:
    return Statement((Subject.for_image("app", IMAGE),), predicate_type(kind), predicate)


def _policy(condition: str, kind: str = "vuln") -> AttestationPolicy:
    text = f'[[attestation]]\ntype = "{kind}"\n[[attestation.condition]]\n{condition}\n'
    return AttestationPolicy.parse(text, what="policy.toml")


SEVERITIES = 'path = "result[].severity"\n'
RULE = '[[attestation]]\ntype = "vuln"\n[[attestation.condition]]\n'


@pytest.mark.parametrize(
    ("condition", "predicate", "failure"),
    [
        (SEVERITIES + 'none_of = ["CRITICAL"]', {"result": [{"severity": "LOW"}]}, None),
        (SEVERITIES + 'none_of = ["CRITICAL"]', {"result": []}, None),
        (
            SEVERITIES + 'none_of = ["CRITICAL"]',
            {"result": [{"severity": "CRITICAL"}, {"severity": "CRITICAL"}]},
            "result[].severity has 'CRITICAL' (2 found)",
        ),
        (SEVERITIES + 'one_of = ["LOW", "MEDIUM"]', {"result": [{"severity": "LOW"}]}, None),
        (
            SEVERITIES + 'one_of = ["LOW", "MEDIUM"]',
            {"result": [{"severity": "HIGH"}]},
            "result[].severity is 'HIGH'",
        ),
        (SEVERITIES + 'one_of = ["LOW"]', {"result": []}, "result[].severity is missing"),
        ('path = "source"\nequals = "git+https://x/app"', {"source": "git+https://x/app"}, None),
        (
            'path = "source"\nequals = "git+https://x/app"',
            {"source": "git+https://y/app"},
            "source is 'git+https://y/app'",
        ),
        ('path = "source"\nequals = "a"', {}, "source is missing"),
        ('path = "source"\nmatches = "git\\\\+https://x/.*"', {"source": "git+https://x/a"}, None),
        (
            'path = "source"\nmatches = "https://x/.*"',
            {"source": "git+https://x/a"},
            "source is 'git+https://x/a'",
        ),
        ('path = "signed"\nexists = true', {"signed": False}, None),
        ('path = "signed"\nexists = true', {}, "signed is missing"),
        ('path = "debug"\nexists = false', {"debug": 1}, "debug is present"),
    ],
)
def test_each_condition_test(condition: str, predicate: Any, failure: str | None) -> None:
    policy = _policy(condition)
    statement = _statement("vuln", predicate)
    if failure is None:
        policy.check([statement])
        return
    with pytest.raises(VerificationFailed) as failed:
        policy.check([statement])
    assert failed.value.reason == "policy-violation"
    assert failure in failed.value.message


def test_every_attestation_of_the_type_must_meet_the_conditions() -> None:
    policy = _policy(SEVERITIES + 'none_of = ["CRITICAL"]\nmessage = "no CRITICAL"')
    clean = _statement("vuln", {"result": [{"severity": "LOW"}]})
    critical = _statement("vuln", {"result": [{"severity": "CRITICAL"}]})
    policy.check([clean])
    with pytest.raises(
        VerificationFailed, match=r"\(2 of 2\) does not meet the policy: no CRITICAL"
    ):
        policy.check([clean, critical])


def test_a_required_type_missing_is_a_violation() -> None:
    policy = _policy('path = "x"\nexists = true', kind="slsaprovenance1")
    with pytest.raises(VerificationFailed, match="requires a https://slsa.dev/provenance/v1"):
        policy.check([_statement("vuln", {"x": 1})])
    assert policy.predicate_types == ("https://slsa.dev/provenance/v1",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not = toml = at all", "not TOML"),
        ("", "no [[attestation]] rule"),
        ("[other]\n", "unknown table 'other'"),
        ('[[attestation]]\ntype = "nope"\n', "attestation[0]: unknown predicate type 'nope'"),
        ("[[attestation]]\n", "attestation[0]: type missing"),
        ('[[attestation]]\ntype = "vuln"\nextra = 1\n', "a rule has a type and conditions only"),
        (
            RULE + 'path = "a"\n',
            "attestation[0].condition[0]: give exactly one of equals",
        ),
        (
            RULE + 'path = "a"\nequals = 1\nexists = true\n',
            "give exactly one of",
        ),
        (
            RULE + "equals = 1\n",
            "path (a JMESPath expression) missing",
        ),
        (
            RULE + 'path = "a[["\nexists = true\n',
            "path 'a[[' is not a JMESPath expression",
        ),
        (
            RULE + 'path = "a"\nnone_of = "X"\n',
            "none_of is a list",
        ),
        (
            RULE + 'path = "a"\nmatches = "("\n',
            "matches: not a regular expression",
        ),
        (
            RULE + 'path = "a"\nexists = 1\n',
            "exists is true or false",
        ),
        (
            RULE + 'path = "a"\nequal = 1\n',
            "unknown key 'equal'",
        ),
    ],
)
def test_a_mistaken_policy_is_refused_naming_the_rule(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as failed:
        AttestationPolicy.parse(text, what="policy.toml")
    assert message in failed.value.message
    assert str(failed.value).startswith("policy.toml: ")

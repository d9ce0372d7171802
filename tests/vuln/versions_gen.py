"""Generators of version strings per ecosystem for the property tests: each takes a
``random.Random`` (drawn by hypothesis, so a failure names its seed) and yields strings
built from the pieces that ecosystem's versions are made of, edge cases included."""

from __future__ import annotations

import random

Gen = random.Random


def _pick(r: Gen, *choices: str) -> str:
    return r.choice(choices)


def _num(r: Gen) -> str:
    return _pick(
        r, "0", "1", "2", "3", "9", "10", "11", "01", "00", "100", "2024", str(r.randint(0, 99))
    )


def _chars(r: Gen, alphabet: str, low: int, high: int) -> str:
    return "".join(r.choice(alphabet) for _ in range(r.randint(low, high)))


def dpkg(r: Gen) -> str:
    upstream = _num(r) + "".join(
        r.choice([".", ".", "~", "+", "-" if r.random() < 0.1 else "."])
        + r.choice(
            [_num(r), _pick(r, "rc1", "beta", "dfsg", "git20230101", "a", "b", "z", "~", "+")]
        )
        for _ in range(r.randint(0, 3))
    )
    if r.random() < 0.2:
        upstream += _chars(r, "0123456789.+~abcAZ", 1, 4)
    version = upstream
    if r.random() < 0.25:
        version = f"{r.randint(0, 3)}:{version}"
    if r.random() < 0.7:
        revision = _pick(r, "1", "2", "10", "0", "1ubuntu1", "1.1", "3~bpo11+1", "0.1", "1~exp1")
        if r.random() < 0.4:
            revision += _pick(r, "+deb12u1", "+deb12u2", "+deb12u10", "+deb11u3", "+b1", "+b2")
        if r.random() < 0.2:
            revision += _pick(r, "+b1", "+b2", "~deb12u1", ".1")
        version += "-" + revision
    return version


def _ident(r: Gen) -> str:
    return _pick(
        r, "alpha", "beta", "rc", "0", "1", "2", "10", "01a", "x", "x-y", "a1", "pre", "11"
    )


def semver(r: Gen) -> str:
    version = ".".join(_pick(r, "0", "1", "2", "10", "11", str(r.randint(0, 20))) for _ in range(3))
    if r.random() < 0.5:
        version += "-" + ".".join(_ident(r) for _ in range(r.randint(1, 3)))
    if r.random() < 0.2:
        version += "+" + ".".join(
            _pick(r, "build", "1", "sha", "001", "x-y") for _ in range(r.randint(1, 2))
        )
    return version


def go(r: Gen) -> str:
    if r.random() < 0.3:  # pseudo-versions
        base = _pick(r, "v0.0.0-", "v1.2.4-0.", "v1.3.0-pre.0.", "v2.0.0-rc.1.0.")
        day = f"20{r.randint(18, 24)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"
        stamp = f"{day}{r.randint(0, 235959):06d}"
        return f"{base}{stamp}-{_chars(r, '0123456789abcdef', 12, 12)}"
    version = "v" + semver(r).split("+")[0]
    if r.random() < 0.15:
        version += "+incompatible"
    return version


def pep440(r: Gen) -> str:
    version = ".".join(_num(r) for _ in range(r.randint(1, 4)))
    if r.random() < 0.1:
        version = f"{r.randint(1, 2)}!{version}"
    if r.random() < 0.35:
        version += _pick(
            r, "a", "b", "rc", "alpha", "beta", "c", "pre", "preview", ".a", "-rc"
        ) + _pick(r, "", "0", "1", "2")
    if r.random() < 0.25:
        version += _pick(r, ".post", "-post", "post", ".rev", "-") + _pick(r, "", "1", "2")
    if r.random() < 0.2:
        version += _pick(r, ".dev", "dev", "-dev") + _pick(r, "", "0", "3")
    if r.random() < 0.15:
        version += "+" + _pick(r, "local", "ubuntu1", "abc.5", "1.2")
    if r.random() < 0.1:
        version = _pick(r, "v", "V", " ") + version
    return version


def maven(r: Gen) -> str:
    pieces = [
        "1",
        "0",
        "2",
        "10",
        "00",
        "01",
        "alpha",
        "a",
        "b",
        "beta",
        "m",
        "milestone",
        "rc",
        "cr",
        "snapshot",
        "SNAPSHOT",
        "ga",
        "final",
        "Final",
        "release",
        "RELEASE",
        "sp",
        "foo",
        "x",
        "a1",
        "b2",
        "m3",
        "1a",
        "jre",
        "android",
        "20240101",
        "v",
        "12345678901",
        "1234567890123456789012",
    ]
    version = r.choice(pieces)
    for _ in range(r.randint(0, 5)):
        version += r.choice([".", "-", ".", "-", ""]) + r.choice(pieces)
    return version


def gem(r: Gen) -> str:
    version = ".".join(
        _pick(r, "0", "1", "2", "10", "01", "a", "b", "pre", "rc", "1a", "alpha", "beta2")
        for _ in range(r.randint(1, 5))
    )
    if version[0].isalpha():
        version = "1." + version
    if r.random() < 0.1:
        version += "-" + _pick(r, "1", "pre", "x-y")
    return version


def rpm(r: Gen) -> str:
    version = _chars(r, "0123456789.abz~^_+", 1, 8)
    if r.random() < 0.6:
        version = ".".join(_num(r) for _ in range(r.randint(1, 3))) + _pick(
            r, "", "~rc1", "^git1", "a", ".el9", "~beta"
        )
    if r.random() < 0.3:
        version = f"{r.randint(0, 3)}:{version}"
    if r.random() < 0.6:
        version += "-" + _pick(
            r,
            "1",
            "2.el9",
            "1.el8_6",
            "0.1.rc1",
            "3.fc39",
            "1~",
            "10",
            "2^1",
            _chars(r, "0123456789.az~^", 1, 5),
        )
    return version


def apk(r: Gen) -> str:
    version = ".".join(_num(r) for _ in range(r.randint(1, 4)))
    if r.random() < 0.2:
        version += _pick(r, "a", "b", "z")
    for _ in range(r.randint(0, 2)):
        if r.random() < 0.4:
            version += (
                "_"
                + _pick(r, "alpha", "beta", "pre", "rc", "p", "git", "svn", "cvs", "hg")
                + _pick(r, "", "1", "2", "20230101")
            )
    if r.random() < 0.6:
        version += f"-r{r.randint(0, 12)}"
    return version

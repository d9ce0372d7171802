"""Each ecosystem's own version comparison, run as that ecosystem's tool runs it, in
batches: one process compares thousands of pairs. Every function takes pairs of version
strings and returns, per pair, -1, 0 or 1 (``None`` where the tool rejects a version).

The programs and files come from Debian packages ``make setup`` installs (DEB_PACKAGES;
tests/test_setup.py checks that every one named here is among them).

- dpkg: ``Dpkg::Version`` (dpkg's own Perl module, libdpkg-perl) for batches, and the
  ``dpkg --compare-versions`` binary itself (one process a pair: for samples).
- npm: node's ``semver`` package (Debian's node-semver, the npm registry's semver 7).
- Maven: ``ComparableVersion``'s own ``main`` from Debian's maven-artifact jar.
- RubyGems: ``Gem::Version`` in Debian's ruby.
- rpm: ``rpm.vercmp`` through rpm's embedded Lua.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence

import pytest

from tests.conftest import need_binary

Pair = tuple[str, str]
MAVEN_JAR = "/usr/share/maven/lib/maven-artifact-3.x.jar"  # maven
NODE_SEMVER = "/usr/share/nodejs/semver/package.json"  # node-semver
NODE_PATH = "/usr/share/nodejs"
DPKG_VERSION_PM = "/usr/share/perl5/Dpkg/Version.pm"  # libdpkg-perl


def need_file(path: str, package: str) -> None:
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: `make setup` installs {package} (DEB_PACKAGES)")


def _run(args: list[str], stdin: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        args,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _results(out: str, count: int) -> list[int | None]:
    lines = out.splitlines()
    assert len(lines) == count, (len(lines), count, lines[-5:])
    return [None if ln == "ERR" else int(ln) for ln in lines]


_PERL_DPKG = r"""
use Dpkg::Version;
while (my $line = <STDIN>) {
    chomp $line;
    my ($a, $b) = split /\t/, $line, 2;
    if (!version_check($a) || !version_check($b)) { print "ERR\n"; next; }
    my $r = version_compare($a, $b);
    print(($r < 0 ? -1 : $r > 0 ? 1 : 0), "\n");
}
"""


def dpkg_perl(pairs: Sequence[Pair]) -> list[int | None]:
    perl = need_binary("perl")
    need_file(DPKG_VERSION_PM, "libdpkg-perl")
    stdin = "".join(f"{a}\t{b}\n" for a, b in pairs)
    return _results(_run([perl, "-e", _PERL_DPKG], stdin), len(pairs))


def dpkg_binary(a: str, b: str) -> int:
    """``dpkg --compare-versions`` itself (one process per call)."""
    dpkg = need_binary("dpkg")
    for op, result in (("lt", -1), ("eq", 0), ("gt", 1)):
        proc = subprocess.run([dpkg, "--compare-versions", a, op, b], check=False)
        if proc.returncode == 0:
            return result
    raise AssertionError(f"dpkg answers none of lt/eq/gt for {a!r} {b!r}")


_NODE_SEMVER = r"""
const semver = require("semver");
const lines = require("fs").readFileSync(0, "utf8").split("\n");
const out = [];
for (const line of lines) {
  if (!line) continue;
  const [a, b] = line.split("\t");
  if (semver.valid(a) === null || semver.valid(b) === null) { out.push("ERR"); continue; }
  out.push(String(semver.compare(a, b)));
}
process.stdout.write(out.join("\n") + (out.length ? "\n" : ""));
"""


def npm_semver(pairs: Sequence[Pair]) -> list[int | None]:
    node = need_binary("node")
    need_file(NODE_SEMVER, "node-semver")
    stdin = "".join(f"{a}\t{b}\n" for a, b in pairs)
    out = _run([node, "-e", _NODE_SEMVER], stdin, {"NODE_PATH": NODE_PATH})
    return _results(out, len(pairs))


def maven(pairs: Sequence[Pair]) -> list[int]:
    """ComparableVersion's ``main`` compares each argument with the next: the pairs are
    passed as a1 b1 a2 b2 ..., and only (ai, bi) is read back."""
    java = need_binary("java")
    need_file(MAVEN_JAR, "maven")
    args: list[str] = [v for pair in pairs for v in pair]
    out = _run(
        [java, "-cp", MAVEN_JAR, "org.apache.maven.artifact.versioning.ComparableVersion", *args],
        "",
    )
    results: list[int] = []
    lines = [ln for ln in out.splitlines() if ln.startswith("   ")]
    # line i compares args[i] and args[i+1]; pair k is line 2k
    assert len(lines) == len(args) - 1, (len(lines), len(args))
    for k in range(len(pairs)):
        a, b = pairs[k]
        text = lines[2 * k].strip()
        for op, value in ((" < ", -1), (" == ", 0), (" > ", 1)):
            if text == f"{a}{op}{b}":
                results.append(value)
                break
        else:
            raise AssertionError(f"cannot read maven's answer {text!r} for {a!r} {b!r}")
    return results


_RUBY_GEM = r"""
STDIN.each_line do |line|
  a, b = line.chomp.split("\t", 2)
  begin
    puts(Gem::Version.new(a) <=> Gem::Version.new(b))
  rescue ArgumentError
    puts "ERR"
  end
end
"""


def rubygems(pairs: Sequence[Pair]) -> list[int | None]:
    ruby = need_binary("ruby")
    stdin = "".join(f"{a}\t{b}\n" for a, b in pairs)
    return _results(_run([ruby, "-e", _RUBY_GEM], stdin), len(pairs))


def rpm(pairs: Sequence[Pair]) -> list[int]:
    """rpm's own ``rpmvercmp`` via its Lua ``rpm.vercmp``; the pairs go in as a Lua
    table of long strings (``[==[...]==]``), so no quoting can break."""
    binary = need_binary("rpm")
    for a, b in pairs:
        assert "]==]" not in a + b and "\n" not in a + b
    table = ",".join(f"{{[==[{a}]==],[==[{b}]==]}}" for a, b in pairs)
    script = "for _, p in ipairs({" + table + '}) do print(rpm.vercmp(p[1], p[2]) .. "\\n") end\n'
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"rpm-oracle-{os.getpid()}.lua")
    with open(path, "w") as f:
        f.write(script)
    try:
        out = _run([binary, "--eval", f"%{{lua: dofile([==[{path}]==])}}"], "")
    finally:
        os.unlink(path)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == len(pairs), (len(lines), len(pairs))
    return [max(-1, min(1, int(ln))) for ln in lines]


__all__ = ["dpkg_binary", "dpkg_perl", "json", "maven", "npm_semver", "rpm", "rubygems"]

"""The Ruby cataloger over installed gemspecs (as RubyGems writes them) and
Gemfile.lock."""

from __future__ import annotations

from pathlib import Path

from imageforge.sbom import FileInfo
from imageforge.sbom.catalogers import ALL_CATALOGERS, RubyCataloger

from .conftest import run, write

GEMS = "usr/local/bundle"

RACK_SPEC = """\
# -*- encoding: utf-8 -*-
# stub: rack 3.0.8 ruby lib

Gem::Specification.new do |s|
  s.name = "rack".freeze
  s.version = "3.0.8"

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :x=
  s.metadata = { "changelog_uri" => "https://example.invalid/x" } if s.respond_to? :metadata=
  s.require_paths = ["lib".freeze]
  s.authors = ["Leah Neukirchen".freeze]
  s.files = ["lib/rack.rb".freeze, "lib/rack/builder.rb".freeze, "README.md".freeze]
  s.homepage = "https://github.com/rack/rack".freeze
  s.licenses = ["MIT".freeze]
  s.summary = "A modular Ruby webserver interface".freeze

  s.installed_by_version = "3.4.10" if s.respond_to? :installed_by_version

  s.specification_version = 4

  s.add_runtime_dependency(%q<webrick>.freeze, [">= 0"])
  s.add_development_dependency(%q<minitest>.freeze, ["~> 5.0"])
end
"""

OLD_STYLE_SPEC = """\
Gem::Specification.new do |spec|
  spec.name    = 'json'
  spec.version = '2.6.3'
  spec.license = 'Ruby'
  spec.add_dependency "racc", "~> 1.4"
end
"""


def test_installed_gemspecs(tmp_path: Path) -> None:
    write(tmp_path, f"{GEMS}/specifications/rack-3.0.8.gemspec", RACK_SPEC)
    write(tmp_path, f"{GEMS}/specifications/default/json-2.6.3.gemspec", OLD_STYLE_SPEC)
    write(tmp_path, "srv/app/app.gemspec", OLD_STYLE_SPEC)  # a project's own, not installed

    packages, warnings = run(RubyCataloger(), tmp_path)

    assert warnings == []
    by_name = {p.name: p for p in packages}
    assert set(by_name) == {"rack", "json"}
    rack = by_name["rack"]
    assert (rack.version, rack.type, rack.purl) == ("3.0.8", "gem", "pkg:gem/rack@3.0.8")
    assert rack.licenses == ("MIT",)
    assert rack.depends_on == ("webrick",)  # development dependencies are not needed
    assert rack.metadata["authors"] == "Leah Neukirchen"
    assert f"/{GEMS}/gems/rack-3.0.8/lib/rack.rb" in rack.files
    assert rack.evidence[0].path == f"{GEMS}/specifications/rack-3.0.8.gemspec"
    json_gem = by_name["json"]
    assert json_gem.licenses == ("Ruby",)
    assert json_gem.depends_on == ("racc",)


GEMFILE_LOCK = """\
GIT
  remote: https://example.invalid/tool.git
  revision: 0123abc
  specs:
    tool (0.3.0)

GEM
  remote: https://rubygems.org/
  specs:
    actionpack (7.0.8)
      actionview (= 7.0.8)
      rack (~> 2.0, >= 2.2.4)
    actionview (7.0.8)
    nokogiri (1.15.4-x86_64-linux)
      racc (~> 1.4)
    rack (2.2.8)
    racc (1.7.1)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  actionpack (~> 7.0)

BUNDLED WITH
   2.4.19
"""


def test_gemfile_lock(tmp_path: Path) -> None:
    write(tmp_path, "srv/app/Gemfile.lock", GEMFILE_LOCK)

    packages, warnings = run(RubyCataloger(), tmp_path)

    assert warnings == []
    assert sorted((p.name, p.version) for p in packages) == [
        ("actionpack", "7.0.8"),
        ("actionview", "7.0.8"),
        ("nokogiri", "1.15.4"),
        ("racc", "1.7.1"),
        ("rack", "2.2.8"),
        ("tool", "0.3.0"),
    ]
    actionpack = next(p for p in packages if p.name == "actionpack")
    assert actionpack.depends_on == ("actionview", "rack")


def test_bad_files_warn(tmp_path: Path) -> None:
    write(tmp_path, f"{GEMS}/specifications/broken.gemspec", "Gem::Specification.new do |s|\n")
    write(tmp_path, f"{GEMS}/specifications/binary.gemspec", b"\x00\xff\xfe" * 100)
    huge = write(tmp_path, "srv/Gemfile.lock", "")
    with huge.open("wb") as out:
        out.truncate(17 * 1024 * 1024)
    write(tmp_path, f"{GEMS}/specifications/rack-3.0.8.gemspec", RACK_SPEC)

    packages, warnings = run(RubyCataloger(), tmp_path)

    assert [p.name for p in packages] == ["rack"]
    assert sorted(path for path, _ in warnings) == [
        "srv/Gemfile.lock",
        f"{GEMS}/specifications/binary.gemspec",
        f"{GEMS}/specifications/broken.gemspec",
    ]


def test_wants() -> None:
    cataloger = RubyCataloger()
    assert cataloger.wants(FileInfo(f"{GEMS}/specifications/x-1.gemspec", "file", 0o644, 10))
    assert cataloger.wants(FileInfo("app/Gemfile.lock", "file", 0o644, 10))
    assert not cataloger.wants(FileInfo("app/x.gemspec", "file", 0o644, 10))
    assert any(isinstance(c, RubyCataloger) for c in ALL_CATALOGERS)

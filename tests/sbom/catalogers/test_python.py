"""The Python cataloger over installed distributions and source-tree manifests, and
against pip's own view of a real virtual environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from imageforge.sbom import DirFiles, FileInfo
from imageforge.sbom.catalogers import ALL_CATALOGERS, PythonCataloger

from .conftest import run, write

SITE = "usr/lib/python3/dist-packages"

METADATA = """\
Metadata-Version: 2.1
Name: Requests_Toolbelt
Version: 1.0.0
Summary: A utility belt
Author: Ian
License: Apache 2.0
Classifier: License :: OSI Approved :: Apache Software License
Classifier: Programming Language :: Python
Requires-Dist: requests (<3.0.0,>=2.0.1)
Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == "socks"
Requires-Dist: typing_extensions>=4; python_version < "3.13"

A long description.
"""


def test_installed_dist_info_with_record_and_licenses(tmp_path: Path) -> None:
    meta = f"{SITE}/requests_toolbelt-1.0.0.dist-info"
    write(tmp_path, f"{meta}/METADATA", METADATA)
    write(
        tmp_path,
        f"{meta}/RECORD",
        "requests_toolbelt/__init__.py,sha256=abc,12\n"
        f"{meta.rsplit('/', 1)[1]}/METADATA,,\n../../../bin/tb,sha256=x,1\n",
    )
    write(tmp_path, f"{meta}/top_level.txt", "requests_toolbelt\n")
    write(
        tmp_path,
        f"{SITE}/six-1.16.0.dist-info/METADATA",
        "Metadata-Version: 2.4\nName: six\nVersion: 1.16.0\nLicense-Expression: mit\n",
    )
    write(
        tmp_path,
        f"{SITE}/attrs-23.1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: attrs\nVersion: 23.1.0\nLicense: MIT\n",
    )

    packages, warnings = run(PythonCataloger(), tmp_path)

    assert warnings == []
    by_name = {p.name: p for p in packages}
    belt = by_name["requests_toolbelt"]  # lower-cased, as syft reports names
    assert belt.version == "1.0.0" and belt.type == "python"
    assert belt.purl == "pkg:pypi/requests-toolbelt@1.0.0"
    # "Apache 2.0" is not an SPDX id, so the classifier decides
    assert belt.licenses == ("Apache-2.0",)
    assert belt.depends_on == ("requests", "typing-extensions")  # the extra is not needed
    assert f"/{SITE}/requests_toolbelt/__init__.py" in belt.files
    assert "/usr/bin/tb" in belt.files
    assert belt.evidence[0].path == f"{meta}/METADATA"
    assert belt.metadata["top_level"] == "requests_toolbelt"
    assert "cpe:2.3:a:python:requests_toolbelt:1.0.0:*:*:*:*:*:*:*" in belt.cpes
    assert len(belt.cpes) == 3
    assert by_name["six"].licenses == ("MIT",)
    assert by_name["attrs"].licenses == ("MIT",)


def test_egg_info_file_and_directory(tmp_path: Path) -> None:
    write(tmp_path, f"{SITE}/old-0.1.egg-info", "Metadata-Version: 1.1\nName: old\nVersion: 0.1\n")
    egg = f"{SITE}/newer-2.0-py3.11.egg-info"
    write(tmp_path, f"{egg}/PKG-INFO", "Metadata-Version: 1.2\nName: newer\nVersion: 2.0\n")
    write(tmp_path, f"{egg}/installed-files.txt", "../newer/__init__.py\nPKG-INFO\n")

    packages, warnings = run(PythonCataloger(), tmp_path)

    assert warnings == []
    assert sorted((p.name, p.version) for p in packages) == [("newer", "2.0"), ("old", "0.1")]
    newer = next(p for p in packages if p.name == "newer")
    assert newer.files == (f"/{egg}/PKG-INFO", f"/{SITE}/newer/__init__.py")


def test_source_manifests_pins_poetry_and_pipfile(tmp_path: Path) -> None:
    write(
        tmp_path,
        "app/requirements-dev.txt",
        "# pinned\n"
        "flask==2.3.2  # web\n"
        "-r other.txt\n"
        "--index-url https://example.invalid/simple\n"
        "requests>=2.0\n"
        "urllib3[socks]==2.0.4 ; python_version >= '3.8' \\\n"
        "    --hash=sha256:aaaa\n"
        "django==4.*\n"
        "-e git+https://example.invalid/x.git#egg=x\n",
    )
    write(
        tmp_path,
        "app/poetry.lock",
        '[[package]]\nname = "click"\nversion = "8.1.3"\n\n'
        '[package.dependencies]\ncolorama = {version = "*", markers = "platform_system == '
        "'Windows'\"}\n\n"
        '[[package]]\nname = "colorama"\nversion = "0.4.6"\n',
    )
    write(
        tmp_path,
        "app/Pipfile.lock",
        json.dumps(
            {
                "default": {"idna": {"version": "==3.4"}, "vcs": {"git": "x"}},
                "develop": {"pytest": {"version": "==7.4.0"}},
            }
        ),
    )

    packages, warnings = run(PythonCataloger(), tmp_path)

    assert warnings == []
    found = sorted((p.name, p.version, p.evidence[0].path.split("/")[-1]) for p in packages)
    assert found == [
        ("click", "8.1.3", "poetry.lock"),
        ("colorama", "0.4.6", "poetry.lock"),
        ("flask", "2.3.2", "requirements-dev.txt"),
        ("idna", "3.4", "Pipfile.lock"),
        ("pytest", "7.4.0", "Pipfile.lock"),
        ("urllib3", "2.0.4", "requirements-dev.txt"),
    ]
    click = next(p for p in packages if p.name == "click")
    assert click.depends_on == ("colorama",)


def test_bad_files_warn_once_each_and_the_rest_is_found(tmp_path: Path) -> None:
    write(tmp_path, f"{SITE}/good-1.0.dist-info/METADATA", "Name: good\nVersion: 1.0\n")
    write(tmp_path, f"{SITE}/noname-1.0.dist-info/METADATA", "Summary: no name here\n")
    write(tmp_path, f"{SITE}/binary-1.0.dist-info/METADATA", b"\xff\xfe\x00garbage\x00")
    huge = write(tmp_path, f"{SITE}/huge-1.0.dist-info/METADATA", "")
    with huge.open("wb") as out:
        out.truncate(17 * 1024 * 1024)
    write(tmp_path, "src/poetry.lock", "[[package]\nname = ")
    write(tmp_path, "src/Pipfile.lock", "{not json")

    packages, warnings = run(PythonCataloger(), tmp_path)

    assert [(p.name, p.version) for p in packages] == [("good", "1.0")]
    warned = sorted(path for path, _ in warnings)
    assert warned == sorted(
        [
            f"{SITE}/binary-1.0.dist-info/METADATA",
            f"{SITE}/huge-1.0.dist-info/METADATA",
            f"{SITE}/noname-1.0.dist-info/METADATA",
            "src/Pipfile.lock",
            "src/poetry.lock",
        ]
    )
    assert any("limit" in msg for path, msg in warnings if "huge" in path)


def test_wants_selects_by_path_only() -> None:
    cataloger = PythonCataloger()

    def wants(path: str, kind: str = "file") -> bool:
        return cataloger.wants(FileInfo(path, kind, 0o644, 10))

    assert wants(f"{SITE}/x-1.dist-info/METADATA")
    assert wants(f"{SITE}/x-1.dist-info/RECORD")
    assert wants(f"{SITE}/x-1.egg-info")
    assert wants("app/requirements.txt") and wants("app/dev-requirements.txt")
    assert not wants(f"{SITE}/x-1.dist-info", "dir")
    assert not wants("usr/share/doc/x/README.txt")
    assert any(isinstance(c, PythonCataloger) for c in ALL_CATALOGERS)


@pytest.fixture(scope="session")
def real_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with a few PyPI packages and their dependencies."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    subprocess.run(
        [
            str(root / "bin/pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "requests==2.32.3",
            "attrs==24.2.0",
            "Jinja2==3.1.4",
        ],
        check=True,
    )
    return root


def test_installed_venv_matches_pip_list(real_venv: Path) -> None:
    site = next((real_venv / "lib").glob("python3*/site-packages"))
    listed = subprocess.run(
        [
            str(real_venv / "bin/pip"),
            "list",
            "--path",
            str(site),
            "--format",
            "json",
            "--disable-pip-version-check",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    expected = {(canonicalize_name(e["name"]), e["version"]) for e in json.loads(listed)}

    packages, warnings = run(PythonCataloger(), real_venv)

    assert warnings == []
    assert {(canonicalize_name(p.name), p.version) for p in packages} == expected
    assert {"requests", "urllib3", "idna", "certifi", "markupsafe"} <= {
        canonicalize_name(p.name) for p in packages
    }
    requests = next(p for p in packages if p.name == "requests")
    assert {"urllib3", "idna", "certifi", "charset-normalizer"} <= set(requests.depends_on)
    assert any(f.endswith("/site-packages/requests/__init__.py") for f in requests.files)
    assert requests.licenses == ("Apache-2.0",)


def test_output_is_the_same_every_run(real_venv: Path) -> None:
    first = list(PythonCataloger().catalog(DirFiles(real_venv), lambda p, m: None))
    second = list(PythonCataloger().catalog(DirFiles(real_venv), lambda p, m: None))
    assert first == second
    assert [p.metadata for p in first] == [p.metadata for p in second]

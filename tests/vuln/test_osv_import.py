"""Importing OSV records: directories of JSON and YAML, osv.dev's zips, schema checks,
and bad input (a record failing the schema, corrupt and truncated zips), each a warning
naming what was skipped while the rest is imported."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.vuln import VulnDB, db_path, import_source, read_osv
from tests.vuln.conftest import DATA

OSV = DATA / "osv"


def _ids(root: Path) -> set[str]:
    with VulnDB.open(root) as db:
        return {i for _s, i in db.advisory_ids()}


def test_a_directory_of_json_and_yaml_records_is_imported(tmp_path: Path) -> None:
    warnings: list[str] = []
    report = import_source(tmp_path, f"osv:{OSV}", warnings.append)
    assert warnings == []
    # 15 records; the three withdrawn ones (aiohttp, GO-2022-0617, spin) are left out
    assert report.source.advisories == 12
    ids = _ids(tmp_path)
    assert {"PYSEC-2018-28", "GHSA-x84v-xcm2-53pg", "GO-2023-1704", "RUSTSEC-2021-0139"} <= ids
    assert ids.isdisjoint({"PYSEC-2022-43059", "GO-2022-0617", "RUSTSEC-2019-0031"})


def test_pypa_yaml_keeps_timestamps_as_text() -> None:
    [adv] = list(read_osv(OSV / "pypa" / "PYSEC-2023-74.yaml", source="t", warn=pytest.fail))
    assert adv.modified == "2023-06-05T01:13:00.534973Z"
    assert adv.aliases == ("CVE-2023-32681", "GHSA-j8r2-6x86-q33q")


def test_git_ranges_are_ignored_and_ecosystem_ranges_kept() -> None:
    [adv] = list(read_osv(OSV / "pypa" / "PYSEC-2018-28.yaml", source="t", warn=pytest.fail))
    [entry] = adv.affected
    assert [r.type for r in entry.ranges] == ["ECOSYSTEM"]  # the record also has a GIT range
    assert "2.19.1" in entry.versions


def test_a_schema_error_inside_a_git_range_keeps_the_record(tmp_path: Path) -> None:
    # pypa's record fixes its GIT range at an abbreviated commit, which the OSV schema
    # refuses; the ECOSYSTEM range is the vulnerability, so the record is imported
    path = OSV / "pypa" / "PYSEC-2021-424.yaml"
    [adv] = list(read_osv(path, source="t", warn=pytest.fail))
    [entry] = adv.affected
    assert [(r.type, [e.version for e in r.events]) for r in entry.ranges] == [
        ("ECOSYSTEM", ["0", "1.41.1"])
    ]
    # the same error outside a GIT range still refuses the record, naming the place
    bad = tmp_path / path.name
    bad.write_text(path.read_text().replace("    - fixed: 1.41.1", "    - fixed: [1.41.1]"))
    warnings: list[str] = []
    assert list(read_osv(bad, source="t", warn=warnings.append)) == []
    [warning] = warnings
    assert warning.startswith(f"{bad} (PYSEC-2021-424): ")
    assert "does not follow the OSV schema at affected/0/ranges/1/events/1" in warning


def test_rustsec_informational_is_marked() -> None:
    [adv] = list(read_osv(OSV / "rustsec" / "RUSTSEC-2021-0139.json", source="t", warn=pytest.fail))
    assert adv.affected[0].informational == "unmaintained"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _osv_members() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(OSV.rglob("*.json"))}


def test_osv_dev_all_zip_is_imported(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "all.zip", _osv_members())
    report = import_source(tmp_path / "root", f"osv:{archive}", pytest.fail)
    assert report.source.advisories == 8  # 10 JSON records, 2 withdrawn


def test_a_record_failing_the_schema_is_named_and_the_rest_imported(tmp_path: Path) -> None:
    members = _osv_members()
    bad = json.loads(members["GHSA-jf85-cpcp-j695.json"])
    bad["affected"][0]["ranges"][0]["type"] = "SOMETIMES"  # not an OSV range type
    members["GHSA-jf85-cpcp-j695.json"] = json.dumps(bad).encode()
    members["garbage.json"] = b'{"id": "GHSA-xxxx", "modified": '
    archive = _zip(tmp_path / "all.zip", members)
    warnings: list[str] = []
    report = import_source(tmp_path / "root", f"osv:{archive}", warnings.append)
    assert report.source.advisories == 7
    assert len(warnings) == 2
    [schema] = [w for w in warnings if "GHSA-jf85-cpcp-j695" in w]
    assert "does not follow the OSV schema at affected/0/ranges/0/type" in schema
    assert schema.startswith(f"{archive}!GHSA-jf85-cpcp-j695.json")
    [broken] = [w for w in warnings if "garbage.json" in w]
    assert "not valid JSON" in broken
    assert "GHSA-jf85-cpcp-j695" not in _ids(tmp_path / "root")


def test_a_damaged_member_of_a_zip_is_skipped_with_a_warning(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "all.zip", _osv_members())
    data = bytearray(archive.read_bytes())
    # corrupt the compressed bytes of the first member (after its 30-byte local header)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        first = z.infolist()[0]
    start = first.header_offset + 30 + len(first.filename)
    for i in range(start + 5, start + 40):
        data[i] ^= 0xFF
    archive.write_bytes(bytes(data))
    warnings: list[str] = []
    report = import_source(tmp_path / "root", f"osv:{archive}", warnings.append)
    assert len(warnings) == 1 and first.filename in warnings[0]
    assert "damaged in the archive" in warnings[0] or "not valid JSON" in warnings[0]
    assert report.source.advisories >= 6


def test_a_truncated_zip_imports_nothing_and_keeps_the_database(tmp_path: Path) -> None:
    root = tmp_path / "root"
    import_source(root, f"osv:{OSV / 'github'}", pytest.fail)
    before = db_path(root).read_bytes()
    archive = _zip(tmp_path / "all.zip", _osv_members())
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    warnings: list[str] = []
    with pytest.raises(InvalidArgument, match="nothing could be imported") as err:
        import_source(root, f"osv:{truncated}", warnings.append)
    assert err.value.hint == "the vulnerability database was left as it was"
    assert len(warnings) == 1 and "not a readable zip archive" in warnings[0]
    assert str(truncated) in warnings[0]
    assert db_path(root).read_bytes() == before


def test_importing_a_source_again_replaces_its_records(tmp_path: Path) -> None:
    records = tmp_path / "records"
    shutil.copytree(OSV / "github", records)
    import_source(tmp_path / "root", f"osv:{records}", pytest.fail)
    import_source(tmp_path / "root", f"osv:{OSV / 'rustsec'}", pytest.fail)
    (records / "GHSA-jf85-cpcp-j695.json").unlink()
    import_source(tmp_path / "root", f"osv:{records}", pytest.fail)
    ids = _ids(tmp_path / "root")
    assert "GHSA-jf85-cpcp-j695" not in ids  # gone from its source
    assert {"GHSA-x84v-xcm2-53pg", "RUSTSEC-2020-0071"} <= ids  # the other source kept


def test_an_unknown_source_kind_is_refused_with_the_forms() -> None:
    with pytest.raises(InvalidArgument) as err:
        import_source(Path("/nonexistent"), "nvd:/tmp/x", pytest.fail)
    assert err.value.hint is not None and "debian-tracker:DIR" in err.value.hint

"""Vulnerability data and matching: the advisory database under the store root and the
engine that turns an SBOM's packages into findings (the ``scan`` command builds on it).

Modules by what they hold:

- version order per ecosystem: :func:`compare`, :func:`version_key`, :func:`scheme_for`
  (``_versions``; the schemes in ``_ver_dpkg``, ``_ver_pep440``, ``_ver_semver``,
  ``_ver_maven``, ``_ver_gem``, ``_ver_rpm``, ``_ver_apk``);
- the advisory model (``_model``): :class:`Advisory`, :class:`Affected`,
  :class:`Range`, :class:`Event`;
- readers: OSV JSON/YAML/zip validated against the OSV schema (``_osv``, ``_osv_read``),
  Debian's security tracker text data and JSON export (``_debian``, ``_debian_json``),
  Alpine secdb (``_alpine``); :func:`import_source` for ``vulndb import SOURCE``;
- the database (``_db``): :class:`VulnDB` reads, :func:`write_sources` builds a new file
  beside the old one and renames it over; :func:`update` downloads the sources
  (``_update``); :func:`db_status` (``_status``);
- matching (``_match``): :func:`match_packages` -> :class:`MatchResult` of
  :class:`Finding` s; package -> ecosystem lookups in ``_ecosystems``; severity and
  CVSS scores in ``_severity``; :func:`filter_findings` (``_filters``);
- suppressions (``_suppress``, ``_vex``): :func:`load_ignore_file`,
  :func:`rules_from_policy`, :func:`load_vex`, :func:`apply_suppressions`;
- upgrade advice (``_advice``): :func:`advice` per finding, :func:`upgrades` per package;
- the findings' JSON contract (``_json``): :func:`findings_document`.
"""

from imageforge.vuln._advice import Upgrade, advice, upgrades
from imageforge.vuln._db import DB_NAME, VULNDB_DIR, SourceStatus, VulnDB, db_path, write_sources
from imageforge.vuln._ecosystems import Query, name_key, query_for
from imageforge.vuln._filters import filter_findings, parse_severities, reaches
from imageforge.vuln._json import finding_json, findings_document, layer_json
from imageforge.vuln._match import (
    Finding,
    LayerOrigin,
    MatchOptions,
    MatchResult,
    affected_version,
    match_packages,
)
from imageforge.vuln._model import STATUSES, Advisory, Affected, Event, Range, SeverityVector
from imageforge.vuln._osv import parse_record
from imageforge.vuln._osv_read import read_osv
from imageforge.vuln._severity import SEVERITIES, CvssScore, severity_of
from imageforge.vuln._sources import IMPORT_KINDS, ImportReport, import_source
from imageforge.vuln._status import STALE_AFTER_SECONDS, DbStatus, db_status
from imageforge.vuln._suppress import (
    IgnoreRule,
    SuppressionResult,
    apply_suppressions,
    load_grype_ignores,
    load_ignore_file,
    load_trivyignore,
    load_trivyignore_yaml,
    rules_from_policy,
)
from imageforge.vuln._update import (
    DEFAULT_DEBIAN_URL,
    DEFAULT_ECOSYSTEMS,
    DEFAULT_OSV_URL,
    UpdateConfig,
    update,
)
from imageforge.vuln._versions import SCHEMES, VersionError, compare, scheme_for, version_key
from imageforge.vuln._vex import load_cyclonedx_vex, load_openvex, load_vex

__all__ = [
    "DB_NAME",
    "DEFAULT_DEBIAN_URL",
    "DEFAULT_ECOSYSTEMS",
    "DEFAULT_OSV_URL",
    "IMPORT_KINDS",
    "SCHEMES",
    "SEVERITIES",
    "STALE_AFTER_SECONDS",
    "STATUSES",
    "VULNDB_DIR",
    "Advisory",
    "Affected",
    "CvssScore",
    "DbStatus",
    "Event",
    "Finding",
    "IgnoreRule",
    "LayerOrigin",
    "ImportReport",
    "MatchOptions",
    "MatchResult",
    "Query",
    "Range",
    "SeverityVector",
    "SourceStatus",
    "SuppressionResult",
    "UpdateConfig",
    "Upgrade",
    "advice",
    "VersionError",
    "VulnDB",
    "affected_version",
    "apply_suppressions",
    "compare",
    "db_path",
    "db_status",
    "filter_findings",
    "finding_json",
    "findings_document",
    "import_source",
    "layer_json",
    "load_cyclonedx_vex",
    "load_grype_ignores",
    "load_ignore_file",
    "load_openvex",
    "load_trivyignore",
    "load_trivyignore_yaml",
    "load_vex",
    "match_packages",
    "name_key",
    "parse_record",
    "parse_severities",
    "query_for",
    "reaches",
    "read_osv",
    "rules_from_policy",
    "scheme_for",
    "severity_of",
    "update",
    "upgrades",
    "version_key",
    "write_sources",
]

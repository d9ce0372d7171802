"""Secrets in images and directories: private keys, cloud and service tokens, passwords
in URLs and credential files, found in every file of every layer (those a later layer
deleted or overwrote too), in the image config and its history.

- :func:`scan_image` / :func:`scan_directory` return a :class:`SecretScanResult`:
  :class:`SecretFinding` s (rule, severity, file and line, the layer and its history
  step, the layer that hid the file, the match with the secret masked), warnings
  naming what could not be read, and counts; ``to_json()`` gives the ``secrets`` list
  of the scan's JSON and ``to_report()`` the findings for the shared writers (SARIF).
- :func:`secret_config` builds the rules of a scan (:class:`SecretConfig`) from the
  built-in ones (:data:`BUILTIN_RULES`, :data:`BUILTIN_ALLOW_RULES`), ``[scan.secrets]``
  of the policy file and trivy-secret.yaml files.
- :class:`SecretRule` and :class:`AllowRule` are the rules as data; the engine
  (``_engine``) runs one Hyperscan keyword search over a text, then the expressions of
  the rules whose keywords occur, over files read in bounded, overlapping windows.

Modules: ``_model`` (rules as data), ``_builtin`` (the rule set), ``_regex`` (Go's RE2
syntax as Python's), ``_config`` (policy and trivy-secret.yaml), ``_engine`` (matching),
``_scan`` (images and directories), ``_prefetch`` (layers read ahead in a thread),
``_result`` (findings and their views), ``_docs`` (docs/secrets.md, :func:`rules_page`).
"""

from imageforge.secrets._builtin import BUILTIN_ALLOW_RULES, BUILTIN_RULES, is_placeholder
from imageforge.secrets._config import DEFAULT_MAX_FILE_SIZE, SecretConfig, secret_config
from imageforge.secrets._docs import rules_page, write_rules_page
from imageforge.secrets._model import PLACES, AllowRule, SecretRule, entropy
from imageforge.secrets._result import Hidden, ScanStats, SecretFinding, SecretScanResult
from imageforge.secrets._scan import scan_directory, scan_image

__all__ = [
    "BUILTIN_ALLOW_RULES",
    "BUILTIN_RULES",
    "DEFAULT_MAX_FILE_SIZE",
    "PLACES",
    "AllowRule",
    "Hidden",
    "ScanStats",
    "SecretConfig",
    "SecretFinding",
    "SecretRule",
    "SecretScanResult",
    "entropy",
    "is_placeholder",
    "rules_page",
    "scan_directory",
    "scan_image",
    "secret_config",
    "write_rules_page",
]

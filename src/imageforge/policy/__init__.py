"""The policy file: ``imageforge.toml``, or ``[tool.imageforge]`` in ``pyproject.toml``.

:func:`find_policy` looks for one from a directory upwards, :func:`load_policy` reads and
validates it (JSON Schema, via ``jsonschema``) into a typed :class:`Policy`; each package
receives only its own section (``policy.lint`` is a :class:`LintPolicy`,
``policy.analyze`` an :class:`AnalyzePolicy`, ``policy.scan`` a :class:`ScanPolicy` of
vulnerability suppressions with reasons and expiry dates, and the secret, misconfig
and licence scanners' settings); ``policy.environments`` the lifecycle's places
(:class:`EnvironmentPolicy`: registry, project and the gates to enter each, in order).
Pure apart from reading the one file; errors are
:class:`~imageforge.errors.InvalidArgument` located in it.
"""

from imageforge.policy._environments import EnvironmentPolicy
from imageforge.policy._load import find_policy, load_policy, policy_from_mapping
from imageforge.policy._model import AnalyzePolicy, LintPolicy, Policy, RuleSpec
from imageforge.policy._scan import ScanIgnore, ScanPolicy, applicable_ignores
from imageforge.policy._scanners import (
    LICENSE_CATEGORIES,
    LicensePolicy,
    MisconfigPolicy,
    SecretAllowSpec,
    SecretPolicy,
    SecretRuleSpec,
)

__all__ = [
    "LICENSE_CATEGORIES",
    "AnalyzePolicy",
    "EnvironmentPolicy",
    "LicensePolicy",
    "MisconfigPolicy",
    "SecretAllowSpec",
    "SecretPolicy",
    "SecretRuleSpec",
    "LintPolicy",
    "Policy",
    "RuleSpec",
    "applicable_ignores",
    "ScanIgnore",
    "ScanPolicy",
    "find_policy",
    "load_policy",
    "policy_from_mapping",
]

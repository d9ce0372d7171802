"""Licences of an image's packages: each package's licence expression (from the SBOM)
evaluated with license-expression and classified as Google's licence classifier and
trivy do (forbidden, restricted, reciprocal, notice, permissive, unencumbered, unknown),
then checked against ``[scan.license]`` of the policy file (licences always allowed or
denied, the categories that fail the scan, licences moved to another category).

:func:`evaluate_licenses` takes an :class:`~imageforge.sbom.Sbom` (the one the
vulnerability scan reads too) and returns a :class:`LicenseResult`: one
:class:`LicenseFinding` per package with a licence, the unknown licences, the packages
without one; ``to_json()`` gives the scan's ``licenses`` list, ``to_report()`` the
findings for the shared writers (SARIF). :func:`category_of` classifies one licence id;
:data:`CATEGORIES` is the table (:data:`ADDED` the ids imageforge adds to the
classifier's lists); ``docs/licenses.md`` is generated from them
(:func:`write_categories_page`, ``make docs``).
"""

from imageforge.licenses._categories import (
    ADDED,
    ALIASES,
    CATEGORIES,
    CATEGORY_SEVERITY,
    category_of,
    family,
)
from imageforge.licenses._docs import categories_page, write_categories_page
from imageforge.licenses._evaluate import evaluate_licenses
from imageforge.licenses._result import LicenseFinding, LicensePart, LicenseResult

__all__ = [
    "ADDED",
    "ALIASES",
    "CATEGORIES",
    "CATEGORY_SEVERITY",
    "LicenseFinding",
    "LicensePart",
    "LicenseResult",
    "categories_page",
    "category_of",
    "evaluate_licenses",
    "family",
    "write_categories_page",
]

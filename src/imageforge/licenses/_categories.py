"""Licence categories, as Google's licence classifier defines them and trivy uses them:
``forbidden``, ``restricted``, ``reciprocal``, ``notice``, ``permissive``,
``unencumbered``; anything else is ``unknown``.

The table names licence families by their SPDX id without the ``-only`` /
``-or-later`` / ``+`` suffix (``GPL-2.0`` stands for ``GPL-2.0-only`` and
``GPL-2.0-or-later``) and follows the classifier's lists (license_type.go). A few
common ids the classifier does not list are added (:data:`ADDED`), each in the category
its terms put it in; the documentation lists them apart so a difference from trivy is
never a surprise. Common names that are not SPDX ids (``GPLv2+``, ``Expat``, ``public
domain``) are read as the id they mean (:data:`ALIASES`), as trivy normalises them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from imageforge.policy import LICENSE_CATEGORIES

__all__ = ["ADDED", "ALIASES", "CATEGORIES", "CATEGORY_SEVERITY", "category_of", "family"]

_CLASSIFIER: Final[dict[str, tuple[str, ...]]] = {
    "forbidden": (
        "AGPL-1.0",
        "AGPL-3.0",
        "Commons-Clause",
        "Facebook-2-Clause",
        "Facebook-3-Clause",
        "Facebook-Examples",
        "WTFPL",
        *(
            f"CC-BY-NC{kind}-{v}"
            for kind in ("", "-ND", "-SA")
            for v in ("1.0", "2.0", "2.5", "3.0", "4.0")
        ),
    ),
    "restricted": (
        "BCL",
        "GPL-1.0",
        "GPL-2.0",
        "GPL-3.0",
        "LGPL-2.0",
        "LGPL-2.1",
        "LGPL-3.0",
        "NPL-1.0",
        "NPL-1.1",
        "OSL-1.0",
        "OSL-1.1",
        "OSL-2.0",
        "OSL-2.1",
        "OSL-3.0",
        "QPL-1.0",
        "Sleepycat",
        *(
            f"CC-BY{kind}-{v}"
            for kind in ("-ND", "-SA")
            for v in ("1.0", "2.0", "2.5", "3.0", "4.0")
        ),
        "GPL-2.0-with-autoconf-exception",
        "GPL-2.0-with-bison-exception",
        "GPL-2.0-with-classpath-exception",
        "GPL-2.0-with-font-exception",
        "GPL-2.0-with-GCC-exception",
        "GPL-3.0-with-autoconf-exception",
        "GPL-3.0-with-GCC-exception",
    ),
    "reciprocal": (
        "APSL-1.0",
        "APSL-1.1",
        "APSL-1.2",
        "APSL-2.0",
        "CDDL-1.0",
        "CDDL-1.1",
        "CPL-1.0",
        "EPL-1.0",
        "EPL-2.0",
        "FreeImage",
        "IPL-1.0",
        "MPL-1.0",
        "MPL-1.1",
        "MPL-2.0",
        "Ruby",
    ),
    "notice": (
        "AFL-1.1",
        "AFL-1.2",
        "AFL-2.0",
        "AFL-2.1",
        "AFL-3.0",
        "Apache-1.0",
        "Apache-1.1",
        "Apache-2.0",
        "Artistic-1.0",
        "Artistic-1.0-cl8",
        "Artistic-1.0-Perl",
        "Artistic-2.0",
        "BSL-1.0",
        "BSD-1-Clause",
        "BSD-2-Clause",
        "BSD-2-Clause-FreeBSD",
        "BSD-2-Clause-NetBSD",
        "BSD-3-Clause",
        "BSD-3-Clause-Attribution",
        "BSD-3-Clause-Clear",
        "BSD-3-Clause-LBNL",
        "BSD-4-Clause",
        "BSD-4-Clause-UC",
        "BSD-Protection",
        "CC-BY-1.0",
        "CC-BY-2.0",
        "CC-BY-2.5",
        "CC-BY-3.0",
        "CC-BY-4.0",
        "FTL",
        "ISC",
        "ImageMagick",
        "Libpng",
        "Lil-1.0",
        "Linux-OpenIB",
        "LPL-1.0",
        "LPL-1.02",
        "MS-PL",
        "MIT",
        "NCSA",
        "OpenSSL",
        "PHP-3.0",
        "PHP-3.01",
        "PIL",
        "Python-2.0",
        "Python-2.0-complete",
        "PostgreSQL",
        "SGI-B-1.0",
        "SGI-B-1.1",
        "SGI-B-2.0",
        "Unicode-DFS-2015",
        "Unicode-DFS-2016",
        "Unicode-TOU",
        "UPL-1.0",
        "W3C",
        "W3C-19980720",
        "W3C-20150513",
        "X11",
        "Xnet",
        "Zend-2.0",
        "zlib-acknowledgement",
        "Zlib",
        "ZPL-1.1",
        "ZPL-2.0",
        "ZPL-2.1",
    ),
    "permissive": (),
    "unencumbered": ("CC0-1.0", "Unlicense", "0BSD"),
}

ADDED: Final[dict[str, str]] = {
    # imageforge's additions: common ids the classifier's lists do not name
    "MPL-2.0-no-copyleft-exception": "reciprocal",
    "PSF-2.0": "notice",
    "Python-2.0.1": "notice",
    "Unicode-3.0": "notice",
    "HPND": "notice",
    "curl": "notice",
    "BlueOak-1.0.0": "notice",
    "X11-distribute-modifications-variant": "notice",
    "MIT-0": "permissive",
    "CC-PDDC": "unencumbered",
    "LicenseRef-public-domain": "unencumbered",
}

# Names metadata gives instead of an SPDX id (Debian copyright files, old package
# metadata) -> the id they mean, as trivy normalises them; compared lower-cased.
ALIASES: Final[dict[str, str]] = {
    "gpl": "GPL-1.0-or-later",
    "gplv2": "GPL-2.0-only",
    "gpl-2": "GPL-2.0-only",
    "gplv2+": "GPL-2.0-or-later",
    "gpl-2+": "GPL-2.0-or-later",
    "gplv3": "GPL-3.0-only",
    "gpl-3": "GPL-3.0-only",
    "gplv3+": "GPL-3.0-or-later",
    "gpl-3+": "GPL-3.0-or-later",
    "lgpl": "LGPL-2.0-or-later",
    "lgplv2": "LGPL-2.0-only",
    "lgplv2+": "LGPL-2.0-or-later",
    "lgpl-2.1": "LGPL-2.1-only",
    "lgplv2.1": "LGPL-2.1-only",
    "lgpl-2.1+": "LGPL-2.1-or-later",
    "lgplv2.1+": "LGPL-2.1-or-later",
    "lgplv3": "LGPL-3.0-only",
    "lgplv3+": "LGPL-3.0-or-later",
    "lgpl-3+": "LGPL-3.0-or-later",
    "agplv3": "AGPL-3.0-only",
    "agplv3+": "AGPL-3.0-or-later",
    "apache-2": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "artistic-2": "Artistic-2.0",
    "bsl-1": "BSL-1.0",
    "expat": "MIT",
    "mit/x11": "MIT",
    "cc0": "CC0-1.0",
    "zlib": "Zlib",
    "psf": "PSF-2.0",
    "python": "PSF-2.0",
    "mpl-2": "MPL-2.0",
    "public-domain": "LicenseRef-public-domain",
    "public domain": "LicenseRef-public-domain",
    "pd": "LicenseRef-public-domain",
}

CATEGORIES: Final[Mapping[str, str]] = {
    **{lic.lower(): cat for cat, ids in _CLASSIFIER.items() for lic in ids},
    **{lic.lower(): cat for lic, cat in ADDED.items()},
}
"""Licence family (lower case) -> category."""

CATEGORY_SEVERITY: Final[Mapping[str, str]] = {
    "forbidden": "CRITICAL",
    "restricted": "HIGH",
    "reciprocal": "MEDIUM",
    "notice": "LOW",
    "permissive": "LOW",
    "unencumbered": "LOW",
    "unknown": "UNKNOWN",
}
"""The severity a licence's category carries, as trivy rates them."""

assert set(CATEGORY_SEVERITY) == set(LICENSE_CATEGORIES)

_SUFFIX: Final = re.compile(r"(-only|-or-later|\+)$", re.IGNORECASE)


def family(license_id: str) -> str:
    """``GPL-2.0-or-later`` -> ``GPL-2.0``: the id without its version suffix."""
    return _SUFFIX.sub("", license_id.strip())


def category_of(license_id: str, overrides: Mapping[str, str] | None = None) -> str:
    """The category of one licence id (no operators): ``overrides`` (lower-case id or
    family -> category) first, then the table; ``unknown`` when neither knows it."""
    key = license_id.strip().lower()
    key = ALIASES.get(key, key).lower()
    fam = family(key)
    for table in (overrides or {}, CATEGORIES):
        for k in (key, fam):
            if k in table:
                return table[k]
    return "unknown"

"""License strings as SPDX expressions (validated by :mod:`imageforge.sbom._licenses`),
the well-known license names and URLs metadata gives instead, the Python trove
classifiers that name one license (short tables: no library maps these to SPDX ids), and
the few license texts a LICENSE file most often holds, recognised by their fixed
sentences (:func:`license_from_text`)."""

from __future__ import annotations

from imageforge.sbom._licenses import normalize_license

__all__ = ["classifier_license", "license_from_text", "license_or_text", "spdx_expression"]


def spdx_expression(text: str) -> str | None:
    """``text`` normalised as an SPDX expression (``mit`` -> ``MIT``), or ``None``
    when it is not one (free text, unknown ids, a license's whole text)."""
    text = text.strip()
    if not text or len(text) > 512 or "\n" in text:
        return None
    return normalize_license(text)


# License names and URLs that metadata often gives instead of an SPDX id, each naming
# exactly one license (compared lower-cased, without a trailing ".txt"/"/" or "http(s)").
_NAMES = {
    "apache license, version 2.0": "Apache-2.0",
    "the apache software license, version 2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "www.apache.org/licenses/license-2.0": "Apache-2.0",
    "opensource.org/licenses/apache-2.0": "Apache-2.0",
    "the mit license": "MIT",
    "mit license": "MIT",
    "opensource.org/licenses/mit": "MIT",
    "bsd-3-clause license": "BSD-3-Clause",
    "eclipse public license - v 2.0": "EPL-2.0",
    "eclipse public license - v 1.0": "EPL-1.0",
    "www.eclipse.org/legal/epl-v20": "EPL-2.0",
    "www.eclipse.org/legal/epl-v10": "EPL-1.0",
    "gnu lesser general public license": "LGPL-2.1-or-later",
}


def _name_key(text: str) -> str:
    key = text.strip().lower().removeprefix("https://").removeprefix("http://")
    return key.removesuffix("/").removesuffix(".txt").removesuffix(".html").removesuffix(".php")


def license_or_text(text: str) -> str | None:
    """The SPDX expression ``text`` states (or the license a well-known name or URL
    names), else ``text`` itself (stripped), or ``None`` when empty."""
    text = text.strip()
    if not text:
        return None
    return spdx_expression(text) or _NAMES.get(_name_key(text)) or text


# The last segment of "License :: OSI Approved :: ..." classifiers that name exactly
# one SPDX license.
_CLASSIFIERS = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "Apache Software License": "Apache-2.0",
    "BSD License": "BSD-3-Clause",
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Library or Lesser General Public License (LGPL)": "LGPL-2.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "Python Software Foundation License": "PSF-2.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "Zope Public License": "ZPL-2.1",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "zlib/libpng License": "Zlib",
    "Academic Free License (AFL)": "AFL-3.0",
    "Artistic License": "Artistic-2.0",
    "European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "Universal Permissive License (UPL)": "UPL-1.0",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}


def classifier_license(classifier: str) -> str | None:
    """The SPDX id a ``License :: ...`` trove classifier names, else its last segment
    as text; ``None`` for other classifiers and for ``OSI Approved`` alone."""
    parts = [p.strip() for p in classifier.split("::")]
    if len(parts) < 2 or parts[0] != "License":
        return None
    last = parts[-1]
    if last in ("OSI Approved", "Other/Proprietary License") and len(parts) <= 2:
        return None
    if last == "OSI Approved":
        return None
    return _CLASSIFIERS.get(last, last)


# The sentences that identify a license's full text (whitespace-normalised, lower case);
# the first entry whose phrases all occur wins, so a license that contains another's
# phrases comes first.
_TEXTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Apache-2.0", ("apache license", "version 2.0, january 2004")),
    ("MPL-2.0", ("mozilla public license version 2.0",)),
    ("EPL-2.0", ("eclipse public license - v 2.0",)),
    ("EPL-1.0", ("eclipse public license - v 1.0",)),
    ("LGPL-2.1-only", ("gnu lesser general public license", "version 2.1, february 1999")),
    ("LGPL-3.0-only", ("gnu lesser general public license", "version 3, 29 june 2007")),
    ("GPL-2.0-only", ("gnu general public license", "version 2, june 1991")),
    ("GPL-3.0-only", ("gnu general public license", "version 3, 29 june 2007")),
    ("MIT", ("permission is hereby granted, free of charge, to any person obtaining a copy",)),
    ("ISC", ("permission to use, copy, modify, and/or distribute this software for any",)),
    (
        "BSD-3-Clause",
        ("redistribution and use in source and binary forms", "neither the name of"),
    ),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",)),
)


def license_from_text(text: str) -> str | None:
    """The SPDX id of the license whose full text ``text`` is (a LICENSE file), or
    ``None`` when it is none of the few recognised."""
    flat = " ".join(text[:20000].split()).lower()
    for spdx, phrases in _TEXTS:
        if all(p in flat for p in phrases):
            return spdx
    return None

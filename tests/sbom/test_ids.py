"""Package identifiers: purl quoting and CPE 2.3 formatted strings."""

from __future__ import annotations

from packageurl import PackageURL

from imageforge.sbom import cpe, cpes, purl


def test_purl_round_trips_through_the_reference_parser() -> None:
    text = purl(
        "deb",
        "libc6",
        "2.36-9+deb12u4",
        namespace="debian",
        qualifiers={"arch": "amd64", "distro": "debian-12", "upstream": ""},
    )
    parsed = PackageURL.from_string(text)
    assert parsed.version == "2.36-9+deb12u4"
    assert parsed.qualifiers == {"arch": "amd64", "distro": "debian-12"}
    assert text.startswith("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?")


def test_cpe_quotes_reserved_characters_and_lowercases() -> None:
    assert cpe("Python Software", "pip", "23.0+dfsg") == (
        "cpe:2.3:a:python_software:pip:23.0\\+dfsg:*:*:*:*:*:*:*"
    )
    assert cpe("x", "y", "").split(":")[5] == "*"
    assert len(cpes(["a", "a", "b"], ["p", ""], "1")) == 2

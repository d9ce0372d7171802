"""What every command pays before it does anything: the modules it loads.

jsonschema loads a format checker for each optional library it finds; one of them
(rfc3987-syntax, pulled in by ``jsonschema[format-nongpl]``, e.g. through
cyclonedx-python-lib's ``json-validation`` extra) builds a grammar at import and added
~1.3 s to every imageforge process. These tests fail if such a dependency comes back."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
import imageforge.cli._app  # the CLI's entry
from imageforge.oci._schema import validate_json
validate_json("descriptor", {"mediaType": "a/b", "digest": "sha256:" + "0" * 64, "size": 1})
import imageforge.cli._sbom, imageforge.cli._build  # the heaviest commands
print(",".join(sorted(m for m in ("rfc3987_syntax", "lark") if m in sys.modules)))
"""


def test_no_command_loads_a_grammar_building_format_checker() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"loaded at start-up: {out}"


def test_help_does_not_load_jsonschema() -> None:
    probe = "import sys; import imageforge.cli._app; print('jsonschema' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"

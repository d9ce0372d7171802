"""Reading /etc/subuid-style files and the id maps rootless mode asks for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from imageforge.errors import Unavailable
from imageforge.runtime import IdRange, in_user_namespace, rootless_plan, subordinate_ranges
from imageforge.runtime._userns import id_map


def test_ranges_by_name_or_uid_in_file_order(tmp_path: Path) -> None:
    sub = tmp_path / "subuid"
    sub.write_text(
        "# comment\nalice:100000:65536\nbob:165536:65536\n1001:300000:1000\n"
        "alice:400000:10\nbroken line\nalice:x:5\nalice:500000:0\n"
    )
    assert subordinate_ranges(sub, "alice", 1001) == [
        IdRange(100000, 65536),
        IdRange(300000, 1000),
        IdRange(400000, 10),
    ]
    assert subordinate_ranges(sub, "carol", 1002) == []
    assert subordinate_ranges(tmp_path / "missing", "alice", 1001) == []


def test_id_map_puts_the_user_at_zero_and_ranges_after() -> None:
    assert id_map(1001, [IdRange(100000, 65536)]) == [0, 1001, 1, 1, 100000, 65536]
    assert id_map(7, [IdRange(10, 5), IdRange(50, 3)]) == [0, 7, 1, 1, 10, 5, 6, 50, 3]


def test_plan_without_ranges_says_how_to_add_them(tmp_path: Path) -> None:
    (tmp_path / "subuid").write_text("")
    (tmp_path / "subgid").write_text("")
    with pytest.raises(Unavailable) as info:
        rootless_plan(subuid=tmp_path / "subuid", subgid=tmp_path / "subgid")
    assert "no subordinate id range in" in str(info.value)
    assert info.value.hint is not None and "usermod --add-subuids" in info.value.hint


def test_this_process_is_not_in_a_user_namespace_but_unshare_is() -> None:
    assert not in_user_namespace()
    code = "from imageforge.runtime import in_user_namespace as f; print(f())"
    proc = subprocess.run(
        ["unshare", "--user", "--map-root-user", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout == "True\n"

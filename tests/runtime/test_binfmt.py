"""Foreign binaries through binfmt_misc: handlers matched by their magic as the kernel
matches them, and a clear refusal with the fix when a platform has none (or has one a
container cannot use). The kernel's own registrations are read where the test needs
them; a directory laid out like the kernel's stands for a machine without a handler."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from imageforge.errors import Unsupported
from imageforge.oci import Platform
from imageforge.runtime import (
    BINFMT_DIR,
    binfmt_handlers,
    check_binfmt,
    check_foreign_exec,
    needs_emulation,
)
from imageforge.runtime._binfmt import elf_header

AMD64 = Platform("linux", "amd64")
ARM64 = Platform.parse("linux/arm64")

AARCH64 = """enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: {flags}
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""


def _binfmt_dir(tmp_path: Path, **handlers: str) -> Path:
    directory = tmp_path / "binfmt_misc"
    directory.mkdir()
    (directory / "status").write_text("enabled\n")
    (directory / "register").write_text("")
    for name, text in handlers.items():
        (directory / name.replace("_", "-")).write_text(text)
    return directory


def test_the_host_and_what_it_runs_natively_need_no_emulator() -> None:
    assert not needs_emulation(AMD64, AMD64)
    assert not needs_emulation(Platform("linux", "386"), AMD64)
    assert needs_emulation(ARM64, AMD64)
    assert check_foreign_exec(AMD64, host=AMD64, directory=Path("/nonexistent")) is None


def test_a_registered_qemu_handler_is_found_by_its_magic(tmp_path: Path) -> None:
    directory = _binfmt_dir(tmp_path, some_other_name=AARCH64.format(flags="PF"))
    handler = check_foreign_exec(ARM64, directory=directory, host=AMD64)
    assert handler is not None and handler.name == "some-other-name"
    assert handler.interpreter.endswith("aarch64-binfmt-P")


def test_no_handler_is_refused_with_the_packages_that_fix_it(tmp_path: Path) -> None:
    directory = _binfmt_dir(tmp_path, qemu_aarch64=AARCH64.format(flags="PF"))
    with pytest.raises(Unsupported) as err:
        check_foreign_exec(Platform("linux", "s390x"), directory=directory, host=AMD64)
    assert "exec format error: no qemu-s390x handler" in err.value.message
    assert err.value.hint is not None
    assert "install qemu-user-static and binfmt-support" in err.value.hint


def test_a_handler_without_the_fix_binary_flag_is_refused(tmp_path: Path) -> None:
    directory = _binfmt_dir(tmp_path, qemu_aarch64=AARCH64.format(flags="P"))
    with pytest.raises(Unsupported) as err:
        check_foreign_exec(ARM64, directory=directory, host=AMD64)
    assert "lacks the F (fix-binary) flag" in err.value.message
    assert "qemu-user-static" in (err.value.hint or "")


def test_a_disabled_handler_is_refused(tmp_path: Path) -> None:
    text = AARCH64.format(flags="PF").replace("enabled", "disabled", 1)
    directory = _binfmt_dir(tmp_path, qemu_aarch64=text)
    with pytest.raises(Unsupported, match="is disabled"):
        check_foreign_exec(ARM64, directory=directory, host=AMD64)


def test_binfmt_misc_not_mounted_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Unsupported) as err:
        check_foreign_exec(ARM64, directory=tmp_path, host=AMD64)
    assert "binfmt_misc is not mounted" in err.value.message
    assert "mount -t binfmt_misc" in (err.value.hint or "")


def test_an_architecture_no_emulator_exists_for_is_refused() -> None:
    with pytest.raises(Unsupported, match="no emulator is known"):
        check_foreign_exec(Platform("linux", "wasm"), host=AMD64)


def test_this_machines_handlers_run_arm64_binaries(tmp_path: Path) -> None:
    """The machine's own registrations (qemu-user-static, from 'make setup')."""
    handlers = binfmt_handlers()
    assert handlers is not None, "binfmt_misc is not mounted here"
    handler = check_foreign_exec(ARM64)
    assert handler is not None and "F" in handler.flags
    assert Path(handler.interpreter).exists()
    # the system check reads the same registrations
    item = check_binfmt()
    assert item.ok and "aarch64" in item.data["architectures"]


def test_a_copy_of_the_kernels_registrations_without_aarch64_refuses_arm64(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "binfmt"
    directory.mkdir()
    for entry in BINFMT_DIR.iterdir():
        if entry.name != "register" and entry.name != "qemu-aarch64":
            shutil.copyfile(entry, directory / entry.name)
    assert check_foreign_exec(Platform.parse("linux/arm/v7"), directory=directory) is not None
    with pytest.raises(Unsupported, match="no qemu-aarch64 handler"):
        check_foreign_exec(ARM64, directory=directory)


@pytest.mark.parametrize(
    ("arch", "first"),
    [("arm64", "7f454c460201010000000000000000000200b700"), ("s390x", "7f454c4602020100")],
)
def test_elf_headers_are_what_the_kernel_matches(arch: str, first: str) -> None:
    header = elf_header(arch)
    assert header is not None and header.hex().startswith(first)
    assert elf_header("wasm") is None

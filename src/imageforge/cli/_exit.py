"""The one mapping from error kinds to process exit codes.

0 success; 1 the command ran and found problems (lint findings, a failed gate, a
machine that cannot build); 2 and up, the command could not do its job, one code per
:class:`~imageforge.errors.ErrorKind` so scripts can tell them apart.
"""

from __future__ import annotations

from imageforge.errors import ErrorKind

__all__ = [
    "EXIT_CODES",
    "EXIT_FINDINGS",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "exit_code_for",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug in imageforge
EXIT_INTERRUPTED = 130

EXIT_CODES: dict[ErrorKind, int] = {
    ErrorKind.INVALID_ARGUMENT: EXIT_USAGE,
    ErrorKind.NOT_FOUND: 3,
    ErrorKind.ALREADY_EXISTS: 4,
    ErrorKind.CONFLICT: 5,
    ErrorKind.DIGEST_MISMATCH: 6,
    ErrorKind.UNAUTHORIZED: 7,
    ErrorKind.DENIED: 8,
    ErrorKind.UNSUPPORTED: 9,
    ErrorKind.UNAVAILABLE: 10,
    ErrorKind.STEP_FAILED: 11,
}


def exit_code_for(kind: ErrorKind) -> int:
    return EXIT_CODES[kind]

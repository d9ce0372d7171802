"""``python -m imageforge`` is the ``imageforge`` command."""

from imageforge.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

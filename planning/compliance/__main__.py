"""Run ``python -m planning.compliance``: the ``planning check-developments`` command."""

from planning.compliance._cli import main

if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m lib``: the calculator (see :mod:`lib.cli`).

Introduced in chapters/07_mental_model.ipynb.
"""

from lib.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

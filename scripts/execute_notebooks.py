"""Re-run notebooks in place so their committed outputs are current (`make execute`).

Each notebook runs in its own folder, as nbval runs it. Widget state is not stored
(the website never loads a widget manager), and a live widget's output is dropped:
without its state it would show as "model not found" in JupyterLab and change id on
every run. Per-cell timings are not stored either, so a re-run that changes nothing
leaves the file unchanged.

Usage: python scripts/execute_notebooks.py chapters/*.ipynb
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def execute(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                            store_widget_state=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if WIDGET_VIEW not in o.get("data", {})]
    nbformat.write(nb, path)
    print(f"executed {path}")


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    for p in paths:
        execute(Path(p))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

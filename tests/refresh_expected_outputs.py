"""Re-record the expected outputs of the cells that nbval compares (tagged nbval-check-output).

    python tests/refresh_expected_outputs.py [notebook ...]     # default: every notebook

Runs each notebook in a fresh kernel, keeps the outputs of tagged cells only, and clears every other
output, execution count and widget state, so the committed notebook stays clean. Run it after changing
a lab whose checked output changes, and review the diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TAG = "nbval-check-output"


def refresh(path: Path) -> None:
    """Execute one notebook and rewrite it with only the tagged outputs kept."""
    original = nbformat.read(path, as_version=4)
    executed = nbformat.read(path, as_version=4)
    NotebookClient(
        executed, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    for kept, ran in zip(original.cells, executed.cells, strict=True):
        if kept.cell_type != "code":
            continue
        kept.execution_count = None
        kept.outputs = []
        if TAG in kept.metadata.get("tags", []):
            kept.execution_count = ran.execution_count  # nbval compares only cells that show they ran
            kept.outputs = ran.outputs
    original.metadata.pop("widgets", None)
    nbformat.write(original, path)
    print(f"refreshed {path.relative_to(NOTEBOOKS.parent)}")


if __name__ == "__main__":
    targets = [Path(a).resolve() for a in sys.argv[1:]] or sorted(
        p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
    for target in targets:
        refresh(target)

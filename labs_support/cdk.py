"""`cdk synth` for the notebook: run a CDK app the way the CDK CLI runs it, and read its cloud assembly.

The CLI starts the app as a subprocess (`python app.py`) with CDK_OUTDIR naming the cloud assembly's folder; the
app's `app.synth()` writes manifest.json and one template per stack there. The course does the same without the
CLI (its deploy step is the sandbox's CloudFormation API). A subprocess also keeps the jsii runtime's Node.js
process (about 0.5 GB) out of the kernel: it ends with the synthesis.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LabError


@dataclass
class CloudAssembly:
    """What `cdk synth` produced: the manifest and each stack's template."""

    outdir: Path
    manifest: dict[str, Any]
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def template_body(self, stack: str) -> str:
        """A stack's template as the JSON text CreateStack takes."""
        if stack not in self.templates:
            raise LabError(f"The app has no stack called {stack}.", hint=f"Its stacks: {', '.join(self.templates)}.")
        return json.dumps(self.templates[stack], indent=1)

    def __repr__(self) -> str:
        stacks = ", ".join(f"{name} ({len(t.get('Resources', {}))} resources)" for name, t in self.templates.items())
        return f"cloud assembly {self.outdir.name}/ in {self.seconds:.1f} s: {stacks}"


def synth(app: str | Path, outdir: str | Path = "cdk.out", timeout: float = 180.0) -> CloudAssembly:
    """Synthesize the CDK app in file `app` into `outdir` (replaced) and return its cloud assembly."""
    app, outdir = Path(app).resolve(), Path(outdir).resolve()
    if not app.exists():
        raise LabError(f"There is no CDK app at {app}.", hint="Write the app file first (the cell above does).")
    if shutil.which("node") is None:
        raise LabError(
            "The CDK needs Node.js (its jsii runtime runs the construct library), and none is on PATH.",
            hint="Install Node.js 20 or later; the course's Binder image and CI machines have it.",
        )
    shutil.rmtree(outdir, ignore_errors=True)
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    started = time.perf_counter()
    try:
        run = subprocess.run(
            [sys.executable, str(app)], cwd=app.parent, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise LabError(f"Synthesis did not finish in {timeout:.0f} s.") from None
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        last = "\n".join((run.stderr or run.stdout).strip().splitlines()[-12:])
        raise LabError(f"The CDK app failed during synthesis:\n{last}", hint="Fix the app and run the cell again.")
    manifest_path = outdir / "manifest.json"
    if not manifest_path.exists():
        raise LabError("The app ran but wrote no cloud assembly.", hint="Does it end with app.synth()?")
    manifest = json.loads(manifest_path.read_text())
    templates = {}
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            template_file = artifact["properties"]["templateFile"]
            templates[name] = json.loads((outdir / template_file).read_text())
    return CloudAssembly(outdir, manifest, templates, seconds)

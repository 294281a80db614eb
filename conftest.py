"""Test-suite settings shared by the unit tests and the notebook runs (nbval).

* Progress goes to a throw-away file, never to the learner's ~/.dop-c02-course.
* LABS_SUPPORT_EXPECT=untouched: notebooks run as committed, so every exercise check must fail with a
  hint and every other check must pass (labs_support.checks raises otherwise, and nbval fails the cell).
Kernels started by nbval (--nbval-current-env) inherit this environment.
"""

from __future__ import annotations

import os
import tempfile

_progress_dir = tempfile.mkdtemp(prefix="labs-test-progress-")
os.environ["DOP_COURSE_PROGRESS"] = os.path.join(_progress_dir, "progress.sqlite")
os.environ["LABS_SUPPORT_EXPECT"] = "untouched"

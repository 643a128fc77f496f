"""Where the repository's deploy files and the local stack's state live."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_SCRIPT = REPO_ROOT / "deploy" / "local" / "stack.sh"


def stack_dir() -> Path:
    """The git-ignored state folder (``TOUCHPOINTS_STACK_DIR``, default ``.stack``)."""
    configured = os.environ.get("TOUCHPOINTS_STACK_DIR")
    return Path(configured) if configured else REPO_ROOT / ".stack"

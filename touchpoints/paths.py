"""Where the repository's deploy files are, and the local stack's state and web UIs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_SCRIPT = REPO_ROOT / "deploy" / "local" / "stack.sh"
CLUSTER_SCRIPT = REPO_ROOT / "deploy" / "local" / "cluster.sh"
SINGLE_NODE_ENV = REPO_ROOT / "deploy" / "local" / "single-node.env"


def single_node_env() -> dict[str, str]:
    """The overrides of a one-broker stack (topics with one copy), as the Makefile reads them."""
    lines = SINGLE_NODE_ENV.read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


class StackUrls(BaseSettings):
    """The local stack as ``deploy/local/stack.sh`` runs it (``TOUCHPOINTS_STACK_*``)."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_STACK_", frozen=True, extra="ignore")

    dir: Path = Field(default=REPO_ROOT / ".stack", description="all local state")
    prometheus_port: int = Field(default=9090, ge=1, le=65535)
    alertmanager_port: int = Field(default=9093, ge=1, le=65535)

    @property
    def prometheus(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def alertmanager(self) -> str:
        return f"http://127.0.0.1:{self.alertmanager_port}"


def stack_dir() -> Path:
    """The git-ignored state folder (``TOUCHPOINTS_STACK_DIR``, default ``.stack``)."""
    return StackUrls().dir

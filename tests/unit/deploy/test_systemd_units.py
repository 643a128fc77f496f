"""deploy/systemd: the units are valid for systemd, start real commands, and restart.

``systemd-analyze verify`` runs against a root made here (the host's own unit
directory, the units under /etc/systemd/system, and an executable where the
venv's ``touchpoints`` will be), so it checks every key and the ExecStart path
without installing anything on this machine.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from touchpoints.cli import cli
from touchpoints.paths import REPO_ROOT
from touchpoints.pipeline import COMPONENTS

UNIT_DIR = REPO_ROOT / "deploy" / "systemd"
UNITS = sorted(UNIT_DIR.glob("*.service"))
EXECUTABLE = Path("/opt/touchpoints/venv/bin/touchpoints")
HOST_UNITS = next(
    (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()),
    None,
)


def _keys(unit: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in unit.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            pairs.append((key, value))
    return pairs


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None or HOST_UNITS is None:
        pytest.fail(
            "systemd-analyze (Debian package systemd) is missing: run `touchpoints stack install`",
            pytrace=False,
        )
    return found


def _root(tmp_path: Path, with_executable: bool) -> Path:
    assert HOST_UNITS is not None
    root = tmp_path / "root"
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(unit, units / unit.name)
    # The system's own programs the units call (ExecReload's kill).
    (root / "bin").mkdir()
    (root / "bin/kill").write_text("#!/bin/sh\nexit 0\n")
    (root / "bin/kill").chmod(0o755)
    if with_executable:
        program = root / EXECUTABLE.relative_to("/")
        program.parent.mkdir(parents=True)
        program.write_text("#!/bin/sh\nexit 0\n")
        program.chmod(0o755)
    return root


def _verify(root: Path) -> subprocess.CompletedProcess[str]:
    names = [u.name.replace("@.service", "@shop.service") for u in UNITS]
    return subprocess.run(
        [_analyze(), "verify", f"--root={root}", "--man=no", "--generators=no", *names],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_component_has_a_unit() -> None:
    names = {u.name.removeprefix("touchpoints-").split(".")[0].rstrip("@") for u in UNITS}
    expected = {"alert-receiver" if n == "receiver" else n for n in COMPONENTS}
    assert names == expected | {"collector", "feed"}


def test_units_verify_clean(tmp_path: Path) -> None:
    result = _verify(_root(tmp_path, with_executable=True))
    # verify exits 0 on an unknown key or a bad value and only warns: both must be silent.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_verify_catches_a_missing_executable(tmp_path: Path) -> None:
    result = _verify(_root(tmp_path, with_executable=False))
    assert result.returncode != 0
    assert f"Command {EXECUTABLE} is not executable" in result.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_restarts_runs_as_its_user_and_is_hardened(unit: Path) -> None:
    keys = _keys(unit)
    for required in [
        ("Restart", "on-failure"),
        ("User", "touchpoints"),
        ("EnvironmentFile", "/etc/touchpoints/touchpoints.env"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
    ]:
        assert required in keys, f"{unit.name}: no {'='.join(required)}"
    assert {"RestartSec", "StartLimitIntervalSec", "StartLimitBurst"} <= {k for k, _ in keys}


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_starts_a_command_of_the_cli(unit: Path) -> None:
    (command,) = [v for k, v in _keys(unit) if k == "ExecStart"]
    program, subcommand, *_ = command.split()
    assert Path(program) == EXECUTABLE
    assert subcommand in cli.commands

"""The set-up: declared dependency ranges vs the tested pins, and what scripts/setup.sh prints.

The script tests never install anything: they run scripts/setup.sh against a stand-in virtualenv
(a fresh stamp and a ``bin/python`` that refuses to run), so the developer's environment is never
touched, whatever state it is in.
"""
from __future__ import annotations

import importlib.metadata
import os
import pty
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
SETUP = REPO / "scripts" / "setup.sh"
STAMP = ".rep-deploy-installed"  # written by setup.sh after a complete install


def _pyproject() -> dict:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _declared() -> list[Requirement]:
    """Every requirement pyproject.toml declares: [project] dependencies, extras, build-system."""
    data = _pyproject()
    project = data["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    reqs += data["build-system"]["requires"]
    return [Requirement(r) for r in reqs]


def _pins() -> dict[str, Version]:
    """constraints.txt as {canonical name: pinned version}; every entry must be an exact pin."""
    pins: dict[str, Version] = {}
    for n, line in enumerate((REPO / "constraints.txt").read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version, (
            f"constraints.txt line {n}: {line!r} is not an exact pin (name==version)")
        name = canonicalize_name(req.name)
        assert name not in pins, f"constraints.txt pins {req.name} twice"
        pins[name] = Version(specs[0].version)
    return pins


def test_dependencies_are_ranges_not_pins() -> None:
    pinned = [str(r) for r in _declared() if any(s.operator in ("==", "===") for s in r.specifier)]
    assert not pinned, (f"pyproject.toml pins exact versions {pinned}: declare the range that works "
                        "and put the tested version in constraints.txt")


def test_constraints_pin_a_version_of_every_dependency_within_its_range() -> None:
    pins = _pins()
    problems = []
    for req in _declared():
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req} has no pin in constraints.txt")
        elif not req.specifier.contains(pin, prereleases=True):
            problems.append(f"{req} excludes the tested {req.name}=={pin}")
    assert not problems, "\n".join(problems)


def test_constraints_keep_torch_on_the_local_cpu_wheel() -> None:
    # Only `torch==2.13.0` resolves to the CPU wheel on this project's machines; a wider spec pulls CUDA.
    assert _pins()[canonicalize_name("torch")] == Version("2.13.0")
    assert "rep-deploy" not in _pins(), "constraints.txt must not pin the project itself"


def test_setup_installs_every_package_under_the_constraints() -> None:
    text = SETUP.read_text()
    # one command per entry: continuation lines joined
    commands = re.sub(r"\\\n\s*", " ", text).splitlines()
    installs = [line for line in commands if re.search(r"pip\s+install\b", line)
                and not line.lstrip().startswith("#")]
    assert installs, "no pip install found in scripts/setup.sh"
    for line in installs:
        assert "-c constraints.txt" in line, f"pip install without the constraints: {line.strip()}"
        assert not re.search(r"\s-q\b", line), f"pip install hides its output: {line.strip()}"
    first = installs[0]
    assert "torch==2.13.0" in first and "-e" not in first.split(), "torch must be installed first, alone"


@pytest.mark.skipif(not (Path(sys.prefix) / STAMP).is_file(),
                    reason="not an environment made by scripts/setup.sh (no stamp in sys.prefix)")
def test_the_environment_holds_the_pinned_versions() -> None:
    wrong = []
    for name, pin in _pins().items():
        try:
            have = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            continue  # pinned for an extra this environment does not install
        if Version(have.public) != pin:
            wrong.append(f"{name} {have} (constraints.txt: {pin})")
    assert not wrong, "installed versions differ from constraints.txt (rerun scripts/setup.sh): " + ", ".join(wrong)


# --- scripts/setup.sh itself, on a stand-in virtualenv -------------------------------------------

needs_tools = pytest.mark.skipif(
    not (shutil.which("cmake") and shutil.which("g++")),
    reason="cmake/g++ missing: setup.sh would apt-get install them")


def _standin_venv(tmp_path: Path, stamp_age: float) -> Path:
    """A directory setup.sh takes for an installed virtualenv; its python refuses to run, so a
    setup.sh that decided to install fails loudly instead of touching any real environment."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    py = venv / "bin" / "python"
    py.write_text("#!/bin/sh\necho 'test_setup: setup.sh tried to install' >&2\nexit 97\n")
    py.chmod(0o755)
    stamp = venv / STAMP
    stamp.touch()
    t = time.time() - stamp_age
    os.utime(stamp, (t, t))
    return venv


def _run_setup(venv: Path, *args: str, tty: bool = False) -> tuple[int, str]:
    env = {**os.environ, "VENV": str(venv)}
    cmd = ["bash", str(SETUP), *args]
    if not tty:
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=60)
        return r.returncode, r.stdout.decode()
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(cmd, env=env, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the script closed its end
                break
            if not data:
                break
            chunks.append(data)
        return p.wait(timeout=60), b"".join(chunks).decode()
    finally:
        os.close(master)


@needs_tools
def test_setup_when_up_to_date_is_quick_and_plain_in_a_log(tmp_path: Path) -> None:
    # A stamp from the future: every input is older, so setup.sh has nothing to do.
    venv = _standin_venv(tmp_path, stamp_age=-86400)
    t0 = time.monotonic()
    rc, out = _run_setup(venv)
    assert rc == 0, out
    assert time.monotonic() - t0 < 20, "an up-to-date set-up should take seconds"
    assert "\x1b" not in out, f"escape codes in piped output: {out!r}"
    lines = out.splitlines()
    assert lines and all(line.startswith("[setup] ") for line in lines), out
    assert f"[setup] environment up to date ({venv})" in lines


@needs_tools
def test_setup_is_bold_on_a_terminal(tmp_path: Path) -> None:
    rc, out = _run_setup(_standin_venv(tmp_path, stamp_age=-86400), tty=True)
    assert rc == 0, out
    assert "\x1b[1m[setup]\x1b[0m environment up to date" in out


@needs_tools
def test_setup_check_names_what_is_out_of_date(tmp_path: Path) -> None:
    venv = _standin_venv(tmp_path, stamp_age=-86400)
    rc, out = _run_setup(venv, "--check")
    assert (rc, out.strip()) == (0, f"[setup] environment up to date ({venv})")
    # A stamp older than the inputs: --check reports why and changes nothing.
    os.utime(venv / STAMP, (0, 0))
    rc, out = _run_setup(venv, "--check")
    assert rc == 1, out
    assert re.fullmatch(r"\[setup\] not up to date: \S+ changed", out.strip()), out
    (venv / STAMP).unlink()
    rc, out = _run_setup(venv, "--check")
    assert rc == 1 and "not installed" in out, out
    assert sorted(p.name for p in venv.iterdir()) == ["bin"], "--check must not write anything"


def test_scripts_emit_escape_codes_only_on_a_terminal() -> None:
    for script in sorted((REPO / "scripts").glob("*.sh")):
        for n, line in enumerate(script.read_text().splitlines(), 1):
            if "\\033" in line or "\\e[" in line:
                assert "[ -t 1 ]" in line, (f"{script.name}:{n} writes an escape code without checking "
                                            f"that stdout is a terminal: {line.strip()}")

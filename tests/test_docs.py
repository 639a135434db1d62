"""The docs stand alone in the repo and stay true of the code they describe.

A clone has no ``../shared``: every relative link in README.md and docs/ must resolve inside the repo,
and the design document's op-set section must name every op and attribute of the spec
(``rep_deploy/ops``), so a spec change that forgets the docs fails here.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from rep_deploy import ops

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "runtimes/ort/README.md",
        ROOT / "runtimes/core/README.md"]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repo(doc: Path) -> None:
    text = doc.read_text()
    assert "../shared" not in text, f"{doc.name} points outside the repo"
    for target in LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        path = (doc.parent / target).resolve()
        assert path.exists(), f"{doc.name}: broken link {target}"
        assert ROOT in path.parents or path == ROOT, f"{doc.name}: link {target} leaves the repo"


def test_readme_opens_with_demo_and_test_commands_and_links_the_design() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    assert "bash scripts/demo.sh" in first_block and "bash scripts/test.sh" in first_block
    assert "(docs/design.md)" in readme
    assert ".ci/run" in readme
    ci = (ROOT / ".ci/run").read_text()
    assert "scripts/test.sh" in ci


def test_readme_names_every_command_and_what_apt_installs() -> None:
    from rep_deploy.cli import main

    readme = (ROOT / "README.md").read_text()
    for command in main.commands:
        assert f"rep-deploy {command}" in readme, f"README does not mention `rep-deploy {command}`"
    for package in ("cmake", "g++", "g++-aarch64-linux-gnu", "qemu-user-static"):
        assert package in readme, f"README does not say the set-up may apt-install {package}"


def test_design_doc_covers_the_whole_op_spec() -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    for name, spec in ops.OPS.items():
        assert f"`{name}" in design, f"docs/design.md does not describe op {name}"
        for attr in spec.attributes:
            assert f"`{attr}`" in design, f"docs/design.md does not describe {name}.{attr}"

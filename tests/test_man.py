"""Man pages: one per Typer command, every option of every command documented, valid roff."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer.main

from nsc.cli import app

MAN = Path(__file__).resolve().parents[1] / "man"


def _plain(roff: str) -> str:
    """Roff source -> text good enough to search option names in."""
    text = roff.replace("\\-", "-").replace("\\&", "")
    text = re.sub(r"\\f[BIRP]", "", text)
    return text


def _commands() -> dict:
    """The click commands Typer builds for ``nsc`` (Typer may vendor click: duck-typed)."""
    return dict(typer.main.get_command(app).commands)


def _option_names(cmd) -> list[str]:
    names = ["--help", "-h"]
    for param in cmd.params:
        if param.param_type_name == "option":
            names += list(param.opts) + list(param.secondary_opts)
    return names


def test_every_command_has_a_page_listed_in_nsc1():
    root = _plain((MAN / "nsc.1").read_text())
    for name in _commands():
        assert (MAN / f"nsc-{name}.1").exists(), f"man/nsc-{name}.1 missing"
        assert f"nsc-{name}(1)" in root.replace(" (1)", "(1)") or f"nsc-{name} (1)" in root, name
        assert re.search(rf"^\.B {name}$", root, re.M), f"nsc.1 does not describe `{name}`"


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_option_is_documented(name):
    cmd = _commands()[name]
    page = _plain((MAN / f"nsc-{name}.1").read_text())
    for opt in _option_names(cmd):
        assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", page), f"{opt} of `nsc {name}` not in its man page"


def test_root_options_documented():
    group = typer.main.get_command(app)
    page = _plain((MAN / "nsc.1").read_text())
    for opt in _option_names(group):
        assert opt in page, opt


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
def test_pages_render_without_warnings():
    for page in sorted(MAN.glob("*.1")):
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", f"{page.name}: {r.stderr}"


ROOT = MAN.parent


def test_readme_commands_are_what_ci_runs():
    """README's two set-up/test commands appear verbatim, as lines, in .ci/run."""
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- setup:begin -->\n```sh\n(.*?)```\n<!-- setup:end -->", readme, re.S)
    assert m, "README.md lacks the setup block"
    commands = m.group(1).strip().splitlines()
    assert len(commands) == 2 and "torch==2.13.0" in commands[0] and "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    for c in commands:
        assert c in ci, f"{c!r} is not run verbatim by .ci/run"
    assert "set -euo pipefail" in ci


def test_readme_links_container_spec():
    readme = (ROOT / "README.md").read_text()
    assert "formats/nsc-container-v1.md" in readme and (ROOT / "formats" / "nsc-container-v1.md").exists()
    assert "nsc train nsc/train/recipes/mscacodec-nb.toml" in readme

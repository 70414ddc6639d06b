"""The README's Python example runs as written, and its commands name real subcommands."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_python_api_example_runs():
    section = README.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "no python block in the Python API section"
    namespace: dict = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)  # noqa: S102 (our own README)
    assert namespace["top"] and 0.0 < namespace["p"] < 1.0


def test_readme_commands_are_real_subcommands():
    from streamrec.shell.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", README, re.S))
    used = set(re.findall(r"(?:^|&& |\| )\s*streamrec ([a-z-]+)", blocks, re.M))
    assert used, "the README shows no streamrec command"
    assert used <= set(sub.choices), f"README names unknown subcommands: {used - set(sub.choices)}"

"""The code's shape, kept: functions short enough to read at once, the modules issue 29
halved kept small, and the formatter applied (``ruff format --check``, when ruff is
installed)."""

import ast
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 60  # docstrings counted
FORMATTED = ("rnn_attn", "experiments", "tests", "benchmarks")  # the Python code
MAX_MODULE_LINES = {"rnn_attn/config.py": 250, "rnn_attn/train/engine.py": 300}


def long_functions(folders=("rnn_attn", "experiments")) -> list[str]:
    found = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        found.append(
                            f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)"
                        )
    return found


def test_no_function_is_longer_than_sixty_lines():
    assert long_functions() == []


@pytest.mark.parametrize("module", sorted(MAX_MODULE_LINES))
def test_the_halved_modules_stay_short(module):
    lines = len((ROOT / module).read_text().splitlines())
    assert lines <= MAX_MODULE_LINES[module], f"{module}: {lines} lines"


def test_the_formatter_is_applied():
    ruff = shutil.which("ruff") or str(pathlib.Path(sys.executable).parent / "ruff")
    if not pathlib.Path(ruff).exists():
        pytest.skip("ruff is not installed (the dev extra installs it)")
    result = subprocess.run(
        [ruff, "format", "--check", "--quiet", *FORMATTED], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr

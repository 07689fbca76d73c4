"""The package's import graph: no cycle inside ``rnn_attn`` (counting imports inside
functions too, which can hide one), and the library never imports the experiments."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rnn_attn"


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: pathlib.Path) -> set[str]:
    """Every module this file imports, at any depth of its code (top-level names)."""
    out = set()
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1]
                    + ([base] if base else [])
                )
            out.add(base)
            out |= {f"{base}.{alias.name}" for alias in node.names}  # `from pkg import module`
    return out


def graph() -> dict[str, set[str]]:
    return {
        name: {m for m in imports_of(path) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules, or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_inside_rnn_attn():
    edges = graph()
    assert len(edges) > 20  # the walk found the package
    # A package's __init__ importing its own submodules is not a cycle of concern.
    edges = {m: {n for n in e if not m.startswith(n + ".")} for m, e in edges.items()}
    cycle = find_cycle(edges)
    assert cycle is None, " -> ".join(cycle)


def test_the_library_never_imports_the_experiments():
    offenders = {
        name: sorted(
            m for m in imports_of(path) if m == "experiments" or m.startswith("experiments.")
        )
        for name, path in MODULES.items()
    }
    assert not {k: v for k, v in offenders.items() if v}, offenders


def test_the_library_below_the_experiment_layer_never_imports_the_config_module():
    """``rnn_attn.config`` declares experiments' settings; the layers below it (nn, models,
    data, train, parallel, analysis, interop) take plain values, and the work-dir and
    resume policy live in ``train.workdir``."""
    allowed = ("rnn_attn.config", "rnn_attn.experiment")
    offenders = {
        name: sorted(m for m in imports_of(path) if m == "rnn_attn.config")
        for name, path in MODULES.items()
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    }
    assert not {k: v for k, v in offenders.items() if v}

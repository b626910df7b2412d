"""The package's layout rules (see avc/__init__.py): subpackages by job with dependencies running
one way, no private name used across modules, small modules and folders, no test support inside."""

import ast
from pathlib import Path

import pytest

from avc.paths import PACKAGE_DIR

MODULES = sorted(PACKAGE_DIR.rglob("*.py"))
# top to bottom: a subpackage may import those below it, never one above it
LAYERS = ["cli", "chapter", "checks", "fitting", "panels", "llm", "theory"]
FREE = {"paths", "__init__", "__main__"}  # imported from anywhere, import nothing of the layers
MAX_LINES, MAX_MODULES = 400, 12


def dotted(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path):
    """(imported module, imported name or None, line) for every ``avc`` import, at any depth."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "avc":
            for alias in node.names:
                yield node.module, alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "avc":
                    yield alias.name, None, node.lineno


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_dependencies_run_one_way():
    wrong = []
    for path in MODULES:
        here = layer(dotted(path))
        for module, name, line in imports_of(path):
            there = layer(module)
            if module == "avc" and name:  # from avc import sub
                there = name
            if there in FREE or there == here:
                continue
            if here in FREE and here != "__main__":
                wrong.append(f"{dotted(path)}:{line} imports {module} (a free module imports no layer)")
            elif here in LAYERS and LAYERS.index(there) < LAYERS.index(here):
                wrong.append(f"{dotted(path)}:{line} imports {module}, which sits above it")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle_between_modules():
    names = {dotted(p) for p in MODULES}
    graph = {
        dotted(p): {f"{m}.{n}" if f"{m}.{n}" in names else m for m, n, _ in imports_of(p)} - {dotted(p)}
        for p in MODULES
    }
    seen, stack, circles = set(), [], []

    def visit(node):
        if node in stack:
            circles.append(" -> ".join([*stack[stack.index(node) :], node]))
            return
        if node in seen or node not in graph:
            return
        seen.add(node)
        stack.append(node)
        for nxt in graph[node]:
            visit(nxt)
        stack.pop()

    for node in graph:
        visit(node)
    assert not circles, "\n".join(circles)


def test_no_private_name_crosses_a_module():
    private = [
        f"{dotted(p)}:{line} imports {name} from {module}"
        for p in MODULES
        for module, name, line in imports_of(p)
        if name and name.startswith("_") and module != dotted(p)
    ]
    assert not private, "\n".join(private)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: dotted(p))
def test_module_is_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{dotted(path)} has {lines} lines, over {MAX_LINES}: split it by job"


def test_folders_are_small_and_hold_no_test_support():
    for folder in [
        PACKAGE_DIR,
        *(p for p in PACKAGE_DIR.iterdir() if p.is_dir() and p.name != "__pycache__"),
    ]:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= MAX_MODULES, f"{folder.name}/ holds {len(modules)} modules, over {MAX_MODULES}"
    for path in MODULES:
        text = path.read_text()
        assert "BaseHTTPRequestHandler" not in text, (
            f"{dotted(path)} holds a test server: it belongs in tests/"
        )
        assert "_reference(" not in text, (
            f"{dotted(path)} holds a reference implementation: it belongs in tests/"
        )


def test_only_llm_imports_openai():
    users = [
        dotted(p)
        for p in MODULES
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any((getattr(node, "module", None) or a.name).split(".")[0] == "openai" for a in node.names)
    ]
    assert all(u.startswith("avc.llm") for u in users), users

"""The package's shape: modules import one way (no cycle, counting imports inside functions), none is over 600
lines, and an import inside a function is there to defer a heavy library (torch, streamlit, ...), nothing else."""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("partkd", "partkd_app")
MAX_LINES = 600
#: Libraries worth loading only when a function needs them (import time, memory, or an optional install).
HEAVY = {"torch", "streamlit", "scipy", "matplotlib", "plotly", "onnx", "onnxruntime", "onnxscript", "pandas",
         "safetensors", "h5py", "av", "imageio", "imageio_ffmpeg", "mediapipe", "cv2", "PIL",
         "ai_edge_litert"}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


@cache
def _tree(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text())


@cache
def _lazy_homes(package: str) -> dict[str, str]:
    """A package's PEP 562 exports (name -> module), read from its `_HOME` table."""
    for node in _tree(package).body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and "_HOME" in ast.unparse(node).split("=")[0]:
            return ast.literal_eval(node.value)
    return {}


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement loads (a package's lazy export counts as the module it lives in)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.module is None or node.level:
        return []
    out = []
    for a in node.names:
        full = f"{node.module}.{a.name}"
        home = _lazy_homes(node.module).get(a.name) if node.module in MODULES else None
        out.append(full if full in MODULES else home or node.module)
    return out


def _top_imports(module: str) -> set[str]:
    out: set[str] = set()
    for node in _tree(module).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.update(_targets(node))
    return out


def _function_imports(module: str) -> list[ast.Import | ast.ImportFrom]:
    return [n for fn in ast.walk(_tree(module)) if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
            for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom)]


@cache
def _heavy(module: str) -> bool:
    """Whether importing `module` loads a HEAVY library at module level, directly or through partkd modules."""
    if module.split(".")[0] in HEAVY:
        return True
    if module not in MODULES:
        return False
    _heavy_guard.add(module)
    found = any(m not in _heavy_guard and _heavy(m) for m in _top_imports(module))
    _heavy_guard.discard(module)
    return found


_heavy_guard: set[str] = set()


def test_no_import_cycle_even_through_imports_inside_functions() -> None:
    graph = {m: {t for n in [*_function_imports(m)] for t in _targets(n) if t in MODULES} | (_top_imports(m) & set(MODULES))
             for m in MODULES}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph[m] - {m}):
            assert state.get(t) != 1, "import cycle: " + " -> ".join(path[path.index(t):] + [t])
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            visit(m)


def test_no_module_is_over_600_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_imports_inside_functions_only_defer_heavy_libraries() -> None:
    light = [f"{MODULES[m].relative_to(ROOT)}:{n.lineno}: {ast.unparse(n)}" for m in sorted(MODULES)
             for n in _function_imports(m) if not any(_heavy(t) for t in _targets(n))]
    assert not light, "\n".join(light)


def test_the_checker_sees_a_lazy_export_and_a_light_module() -> None:
    assert _heavy("partkd.models.layers") and not _heavy("partkd.engine.config") and not _heavy("partkd.registry")
    node = ast.parse("from partkd.models import to_model_input").body[0]
    assert isinstance(node, ast.ImportFrom) and _targets(node) == ["partkd.models.layers"]

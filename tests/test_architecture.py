"""Data flows one way through the package: no module imports, even inside a function, one that imports it back."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "vae_tutorial"
TEACHING_CORE = {"encoder", "sampling", "decoder", "losses", "model"}


def imports():
    """{module: the package's modules it imports anywhere in its file}, names relative to the package."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        modules[name.removesuffix(".__init__") if name != "__init__" else ""] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vae_tutorial"):
                base = node.module.removeprefix("vae_tutorial").lstrip(".")
                targets = [f"{base}.{alias.name}".lstrip(".") for alias in node.names] + [base]
            elif isinstance(node, ast.Import):
                targets = [alias.name.removeprefix("vae_tutorial").lstrip(".") for alias in node.names
                           if alias.name.startswith("vae_tutorial")]
            found |= {target for target in targets if target in modules and target not in ("", name)}
        graph[name] = found
    return graph


def cycles(graph):
    """Every import cycle, as a list of modules (depth-first search)."""
    found, state = [], {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(imports()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_the_teaching_core_imports_nothing_else_of_the_package():
    graph = imports()
    assert {module: graph[module] - TEACHING_CORE for module in TEACHING_CORE} == {m: set() for m in TEACHING_CORE}

"""Data flows one way through the package: no module imports, even inside a function, one that imports it back."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "vae_tutorial"
TEACHING_CORE = {"encoder", "sampling", "decoder", "losses", "model"}
# Data flows left to right: a module imports only from its own layer or layers to its left.
LAYERS = [
    {"", "quiet", "keras_hook", "config"},        # start-up and settings
    {"data"},                                      # images in, arrays out
    TEACHING_CORE | {"prior", "saving"},           # the model the course teaches
    {"fast"},                                      # speed-ups of the same model
    {"evaluation"},                                # numbers about a model
    {"plots"},                                     # every figure
    {"training"},                                  # fit, callbacks, run folders, tf.distribute
    {"generation"},                                # new images from a trained model
    {"commands"},                                  # what each command of the command line computes
    {"course", "cli", "__main__"},                 # the course's helpers and the command line
]


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


def layer(module):
    top = module.split(".")[0]
    return next(index for index, members in enumerate(LAYERS) if top in members)


def test_data_flows_one_way_through_the_layers():
    graph = imports()
    against = sorted(f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"
                     for module, targets in graph.items() for target in targets if layer(target) > layer(module))
    assert against == []


def test_every_module_has_a_layer():
    assert [module for module in imports() if not any(module.split(".")[0] in members for members in LAYERS)] == []


def test_the_plain_model_touches_nothing_in_fast(monkeypatch):
    """``build_vae(fast=False)``, the notebooks' model, uses nothing of ``vae_tutorial.fast``."""
    from vae_tutorial import fast
    from vae_tutorial.training import build_vae

    def refuse(*args, **kwargs):
        raise AssertionError("build_vae(fast=False) used vae_tutorial.fast")

    for name in ("FusedAdam", "fast_parts"):
        monkeypatch.setattr(fast, name, refuse)
    model = build_vae(fast=False, latent_dim=4)
    assert type(model.optimizer).__name__ == "Adam"
    with __import__("pytest").raises(AssertionError, match="used vae_tutorial.fast"):
        build_vae(fast=True, latent_dim=4)

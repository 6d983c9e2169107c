"""Write copies of notebooks with their exercises solved: each scaffold replaced by the instructor's solution.

    python solutions/fill.py notebooks/*.ipynb --output solved/

For ``notebooks/NN_name.ipynb`` the solutions are ``solutions/nbNN_name.py``. In each code cell, a function
whose body is only ``...`` (after its docstring) and whose name a solution has is replaced by the solution's
source; the cell's outputs are cleared. The rest of the notebook is copied unchanged.
"""

import argparse
import ast
import importlib.util
import inspect
import json
import sys
from pathlib import Path

import vae_tutorial  # noqa: F401  (first: the solutions' TensorFlow start-up lines are filtered)

SOLUTIONS = Path(__file__).resolve().parent


def solutions_for(notebook):
    """The solution functions for ``notebook``, by name ({} when it has no solutions file)."""
    path = SOLUTIONS / f"nb{Path(notebook).stem}.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: fn for name, fn in vars(module).items() if inspect.isfunction(fn) and fn.__module__ == path.stem}


def is_scaffold(node):
    """A function whose body is ``...``, after an optional docstring."""
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return (len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and body[0].value.value is Ellipsis)


def fill_source(source, solutions):
    """``source`` with each scaffold that has a solution replaced by it; and how many were replaced."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: no exercise there
        return source, 0
    lines = source.splitlines()
    scaffolds = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in solutions
                 and is_scaffold(node)]
    for node in reversed(scaffolds):  # from the bottom, so the line numbers above stay right
        start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        lines[start:node.end_lineno] = inspect.getsource(solutions[node.name]).rstrip("\n").splitlines()
    return "\n".join(lines), len(scaffolds)


def fill_notebook(path, output):
    """Write the solved copy of the notebook ``path`` to the folder ``output``; return how many were filled."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    solutions, filled = solutions_for(path), 0
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source, count = fill_source("".join(cell["source"]), solutions)
        if count:
            cell["source"], cell["outputs"], cell["execution_count"] = source.splitlines(keepends=True), [], None
            filled += count
    output.mkdir(parents=True, exist_ok=True)
    (output / Path(path).name).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return filled


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks (.ipynb) to copy with solutions")
    parser.add_argument("--output", type=Path, required=True, help="folder for the solved copies")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        problem = ("not a notebook file" if path.suffix != ".ipynb" or not path.is_file()
                   else "--output is the notebook's own folder" if path.resolve().parent == args.output.resolve()
                   else None)
        if problem:
            print(f"fill.py: error: {problem}: {path}", file=sys.stderr)  # one line, as the package's command line
            return 2
    for path in args.notebooks:
        print(f"{path.name}: {fill_notebook(path, args.output)} exercises filled")
    return 0


if __name__ == "__main__":
    sys.exit(main())

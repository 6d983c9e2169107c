"""A committed ``show(...)`` output is the package's current source: a lesson never shows code that no longer runs."""
import ast
import json
from pathlib import Path

import pytest

from vae_tutorial.course.source import show

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def shown(notebook):
    """``(cell index, names shown, committed text)`` for each code cell whose last statement is ``show(...)``."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or "show(" not in source:
            continue
        last = ast.parse(source).body[-1]
        if not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                and getattr(last.value.func, "id", None) == "show"):
            continue
        text = "".join(next((o["data"]["text/plain"] for o in cell.get("outputs", [])
                             if "text/plain" in o.get("data", {})), []))
        yield index, [ast.unparse(arg) for arg in last.value.args], text


def namespace(notebook):
    """What the notebook's import statements bring in."""
    names = {}
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(line for line in cell["source"] if not line.lstrip().startswith(("%", "!"))))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                exec(compile(ast.Module([node], []), str(notebook), "exec"), names)
    return names


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_show_outputs_are_the_current_source(notebook):
    names = namespace(notebook)
    stale = []
    for index, shown_names, text in shown(notebook):
        current = show(*(eval(name, names) for name in shown_names)).data
        if text.rstrip() != current.rstrip():
            stale.append(f"cell {index}: show({', '.join(shown_names)})")
    assert stale == [], f"{notebook.name}: committed outputs older than the source; run the notebook again"


def test_a_changed_source_is_seen(tmp_path):
    notebook = NOTEBOOKS[0]
    cells = json.loads(notebook.read_text(encoding="utf-8"))
    found = [(i, names, text) for i, names, text in shown(notebook)]
    assert found, f"{notebook.name} shows no source to check"
    index = found[0][0]
    output = next(o for o in cells["cells"][index]["outputs"] if "text/plain" in o.get("data", {}))
    output["data"]["text/plain"] = ["def changed():\n", "    pass\n"]
    copy = tmp_path / notebook.name
    copy.write_text(json.dumps(cells), encoding="utf-8")
    with pytest.raises(AssertionError, match="older than the source"):
        test_committed_show_outputs_are_the_current_source(copy)

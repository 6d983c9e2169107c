"""pyproject.toml (pip) and environment.yml (conda, Binder) must ask for the same things."""

import json
import re
import tomllib
from pathlib import Path

import yaml

from conftest import load_file

ROOT = Path(__file__).resolve().parents[1]


def _split(requirement):
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.split("#")[0].strip().replace(" ", "")


def _project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _environment():
    """environment.yml's ``(conda, pip)`` requirements, each ``{name: spec}``."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip.update(_split(r) for r in entry["pip"] if not r.startswith("-"))
        else:
            name, spec = _split(entry)
            conda[name] = spec
    return conda, pip


def test_environment_yml_matches_pyproject():
    project = _project()
    pip_deps = dict(_split(r) for r in project["dependencies"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = _environment()
    both = {**conda, **pip}
    for name, spec in pip_deps.items():
        assert name in both, f"{name} is in pyproject.toml but not in environment.yml"
        assert both[name] == spec, f"{name}: pyproject.toml says {spec!r}, environment.yml {both[name]!r}"
    assert "-e ." in next(e for e in env["dependencies"] if isinstance(e, dict))["pip"]
    assert "nodejs" in conda  # the emoji data set is installed with npm


def test_environment_yml_python_is_the_lowest_pyproject_allows():
    """conda and Binder build with the oldest Python that pyproject.toml's requires-python allows."""
    requires = _project()["requires-python"]
    floor = re.fullmatch(r">=(\d+\.\d+)", requires.replace(" ", ""))
    assert floor, f"requires-python should be '>=X.Y'; pyproject.toml says {requires!r}"
    python = _environment()[0]["python"]
    assert python == f"={floor.group(1)}", f"environment.yml has python{python}, pyproject.toml {requires!r}"


def _floors_script():
    return load_file("scripts/floors.py")


def test_oldest_run_pins_every_dependency_at_its_floor():
    """scripts/floors.py, the oldest run's constraints, holds ``name==floor`` for each dependency and test tool."""
    project = _project()
    expected = {}
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        name, spec = _split(requirement)
        assert spec.startswith(">="), f"{requirement!r} in pyproject.toml states no floor"
        expected[name] = spec[2:].split(",")[0]
    assert _floors_script().floors(ROOT / "pyproject.toml") == expected


def test_floors_refuses_a_dependency_without_a_floor(tmp_path, capsys):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["keras>=3.13", "numpy"]\n'
                         '[project.optional-dependencies]\ntest = ["pytest>=8"]\n')
    assert _floors_script().main([str(pyproject)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "'numpy'" in err and "no floor" in err


def test_notebook_tools_are_in_both():
    project = _project()
    extras = project["optional-dependencies"]
    test_deps = dict(_split(r) for r in extras["test"] + project["dependencies"])
    notebook_deps = dict(_split(r) for r in extras["notebooks"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_split(e) for e in env["dependencies"] if isinstance(e, str))
    assert "jupyterlab" in notebook_deps and "ipykernel" in notebook_deps
    for name, spec in notebook_deps.items():
        # scripts/lab.sh installs the notebooks extra, setup.sh --test the test extra, conda environment.yml
        assert test_deps.get(name) == spec, f"{name}{spec} is in the notebooks extra but not in the test extra"
        assert conda.get(name) == spec, f"{name}{spec} is in the notebooks extra but not in environment.yml"


def test_emoji_data_set_is_pinned_exactly():
    package = json.loads((ROOT / "package.json").read_text())
    assert package["dependencies"] == {"emoji-datasource-google": "16.0.0"}
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/emoji-datasource-google"]["version"] == "16.0.0"

"""pyproject.toml (pip) and environment.yml (conda, Binder) must ask for the same things."""

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _split(requirement):
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.split("#")[0].strip().replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_deps = dict(_split(r) for r in project["dependencies"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip.update(_split(r) for r in entry["pip"] if not r.startswith("-"))
        else:
            name, spec = _split(entry)
            conda[name] = spec
    both = {**conda, **pip}
    for name, spec in pip_deps.items():
        assert name in both, f"{name} is in pyproject.toml but not in environment.yml"
        assert both[name] == spec, f"{name}: pyproject.toml says {spec!r}, environment.yml {both[name]!r}"
    assert "-e ." in next(e for e in env["dependencies"] if isinstance(e, dict))["pip"]
    assert "nodejs" in conda  # the emoji data set is installed with npm
    python = conda["python"].lstrip("=")
    assert re.match(r">=3\.(\d+)", project["requires-python"]) and int(python.split(".")[1]) >= 10


def test_notebook_tools_are_in_both():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
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

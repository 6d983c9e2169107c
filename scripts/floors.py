"""The lowest versions pyproject.toml allows, as pip constraints: one ``name==floor`` line each.

    python scripts/floors.py [pyproject.toml] > floors.txt
    pip install -c floors.txt -e ".[test]"

Covers the package's dependencies and its ``test`` extra. Every one of them must state a floor
(``name>=version``); one that does not is an error (one line on stderr, exit status 2), since the
oldest run (``bash scripts/test.sh --oldest``) could not test it.
"""

import re
import sys
import tomllib
from pathlib import Path

EXTRAS = ("test",)  # the optional dependencies the oldest run installs
FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.\-]*)\s*(?:\[[^\]]*\])?\s*>=\s*([^\s,;#]+)")


def floors(pyproject):
    """``{name: version}`` from ``>=`` in the dependencies and the ``test`` extra of ``pyproject`` (a path).

    Names are lower-case with ``-`` for ``_``. Raises ``ValueError`` for a requirement without a floor.
    """
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in EXTRAS:
        requirements += project["optional-dependencies"][extra]
    result = {}
    for requirement in requirements:
        match = FLOOR.match(requirement)
        if match is None:
            raise ValueError(f"{requirement!r} in {pyproject} states no floor (name>=version)")
        name, version = match.groups()
        result[name.lower().replace("_", "-")] = version
    return result


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    pyproject = args[0] if args else Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        pins = floors(pyproject)
    except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError) as exc:
        print(f"floors: {exc}", file=sys.stderr)
        return 2
    for name, version in pins.items():
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

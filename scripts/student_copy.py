"""Write a student copy of the course: the package, the notebooks and what sets them up, without the answers.

    python scripts/student_copy.py DEST

DEST must be a new or empty folder. The copy holds the files :data:`INCLUDE` names: the package (its checkers
included: students may read them), the notebooks, the README and the instructor's guide, the environment files
(pyproject.toml, environment.yml, postBuild, package.json for the emoji data), the set-up scripts (setup.sh,
lab.sh, quickstart.sh), docs/ and benchmarks/. It leaves out solutions/ (the answers), tests/ (tests/test_exercises.py
holds the solutions too), the test and CI scripts, and anything not tracked (.venv, runs, caches). In each Markdown
file it copies, the lines from ``<!-- instructors-only -->`` to ``<!-- /instructors-only -->`` are left out.

Errors are one line on stderr and exit status 2.
"""

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = [
    "README.md", "pyproject.toml", "environment.yml", "postBuild", "package.json", "package-lock.json", ".gitignore",
    "scripts/setup.sh", "scripts/lab.sh", "scripts/quickstart.sh",
    "vae_tutorial/**/*.py", "notebooks/*.ipynb", "notebooks/README.md",
    "docs/**/*.md", "docs/images/*.png", "benchmarks/*.py", "benchmarks/*.md",
]
INSTRUCTORS_ONLY = re.compile(r"^<!-- instructors-only -->\n.*?^<!-- /instructors-only -->\n\n?", re.M | re.S)


def course_files(root=ROOT):
    """The files of ``root`` that a student copy holds, relative to ``root``, sorted."""
    return sorted({path.relative_to(root) for pattern in INCLUDE for path in root.glob(pattern) if path.is_file()})


def for_students(markdown: str) -> str:
    """``markdown`` without its instructors-only parts: each from its opening marker line to its closing one, and
    the blank line after it."""
    return INSTRUCTORS_ONLY.sub("", markdown)


def write_copy(dest, root=ROOT):
    """Copy :func:`course_files` of ``root`` to the new or empty folder ``dest``; return the files written.

    Raises ``ValueError`` (one line) when ``dest`` is a file or a folder that holds something.
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError(f"{dest} exists and is not an empty folder; give a new folder")
    files = course_files(root)
    for relative in files:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.suffix == ".md":
            target.write_text(for_students((root / relative).read_text(encoding="utf-8")), encoding="utf-8")
        else:
            shutil.copy2(root / relative, target)
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="a new or empty folder for the student copy")
    args = parser.parse_args(argv)
    try:
        files = write_copy(args.dest)
    except (ValueError, OSError) as error:
        print(f"student_copy.py: error: {error}", file=sys.stderr)
        return 2
    print(f"student_copy.py: wrote {len(files)} files to {args.dest} (no solutions/, no tests/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

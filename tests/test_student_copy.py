"""scripts/student_copy.py: the course without its answers, called in-process."""

from conftest import ROOT, load_file


def _script():
    return load_file("scripts/student_copy.py")


def test_the_student_copy_holds_the_course_without_solutions_or_tests(tmp_path, capsys):
    dest = tmp_path / "students"
    assert _script().main([str(dest)]) == 0
    files = {path.relative_to(dest).as_posix() for path in dest.rglob("*") if path.is_file()}
    for needed in ("README.md", "pyproject.toml", "environment.yml", "postBuild", "package.json",
                   "package-lock.json", "scripts/setup.sh", "scripts/lab.sh", "vae_tutorial/__init__.py",
                   "vae_tutorial/course/exercises/__init__.py", "vae_tutorial/course/grading.py", "vae_tutorial/fast/__init__.py",
                   "notebooks/README.md", *(f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.ipynb"))):
        assert needed in files, needed
    assert len([f for f in files if f.endswith(".ipynb")]) == 7
    assert not [f for f in files if f.split("/")[0] in ("solutions", "tests") or "__pycache__" in f
                or f in ("scripts/test.sh", "scripts/run_notebooks.sh")]
    assert (dest / "notebooks" / "01_data_preparation.ipynb").read_bytes() == \
        (ROOT / "notebooks" / "01_data_preparation.ipynb").read_bytes()
    guide, original = (dest / "notebooks" / "README.md").read_text(), (ROOT / "notebooks" / "README.md").read_text()
    for instructors_only in ("solutions/", "vae-tutorial grade", "student_copy.py", "instructors-only"):
        assert instructors_only in original and instructors_only not in guide, instructors_only
    assert "## Exercises and solutions" in guide and "## Time" in guide  # the rest of the guide stays
    assert "\n\n\n" not in guide
    assert "## Tests" in (ROOT / "README.md").read_text() and "## Tests" not in (dest / "README.md").read_text()
    said = capsys.readouterr().out
    assert said == f"student_copy.py: wrote {len(files)} files to {dest} (no solutions/, no tests/)\n"


def test_a_folder_that_holds_something_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "kept.txt").write_text("an instructor's notes")
    assert _script().main([str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "is not an empty folder" in err
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]

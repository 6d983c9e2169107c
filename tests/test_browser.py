"""The notebooks in a real browser: JupyterLab in Chromium, driven by Playwright, the way a student meets them.

For each notebook: open it, Run All, wait for the kernel, then check that no cell raised and that every figure
rendered as a loaded image. In notebook 6, move the explorer's sliders with the keyboard and check that the
picture and its label follow (the first direction's slider, moved from end to end, must change the picture
visibly), then upload a picture through the file chooser and check that the upload panel shows it. The server runs
over a temporary copy of ``notebooks/`` and the browser is Debian's Chromium (``scripts/setup.sh --test`` installs
it). On failure a screenshot, the cells' text, the page's console log and the server log are saved under
``test-artifacts/browser/``; the output names the folder.
"""

import contextlib
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from lab_harness import (CHROMIUM_ARGS, JupyterLabServer, explorer_snapshot, move_slider_and_wait, open_notebook,
                         picture_change, png_outputs, rendered_images, run_all, shutdown_kernel, strip_outputs,
                         transcript, upload_and_wait, write_notebook)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPLORER_NOTEBOOK = next((nb.name for nb in NOTEBOOKS if nb.name.startswith("06")), None)
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("VAE_TUTORIAL_CHROMIUM", "/usr/bin/chromium")
RUN_TIMEOUT = 1200  # seconds for one notebook's Run All; a hang fails with the cell it hangs in

# Figures each notebook draws (its plot_* and visualize_batch calls), used when its file has no outputs to count.
MIN_FIGURES = {"01": 1, "02": 1, "03": 2, "04": 1, "05": 2, "06": 6}
# The first explorer slider moves z along the direction in which the codes vary most: from one end of its range to
# the other (+3 to -3 standard deviations) it must change the picture by at least this mean absolute difference of
# pixel values in [0, 1]. A slider on one latent dimension of a trained model changed it by about 0.05 (issue 20).
VISIBLE_CHANGE = 0.1
# The browser runs the notebooks at the shortest course setting, one epoch; nbval runs them at the test command's
# setting (scripts/test.sh), so the suite checks that both run every notebook to the end.
EPOCHS = "1"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(RUN_TIMEOUT + 300)]


class Lab:
    """One JupyterLab server and one Chromium for the module; one notebook page open at a time."""

    def __init__(self, server, browser):
        self.server, self.browser = server, browser
        self.path = self.context = self.page = self.result = None
        self.console: list[str] = []

    def run(self, path: str):
        """Open ``path`` in a fresh page and Run All; a second call for the same path returns the same run."""
        if path == self.path:
            return self.result
        self.close()
        self.console = []
        self.context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.on("console", lambda msg: self.console.append(f"[{msg.type}] {msg.text}"))
        self.page.on("pageerror", lambda err: self.console.append(f"[pageerror] {err}"))
        open_notebook(self.page, self.server, path)
        self.result = run_all(self.page, path, timeout=RUN_TIMEOUT)
        self.path = path  # only a run that finished is reused
        return self.result

    def close(self):
        """Shut down the open notebook's kernel and close its page."""
        if self.page is not None:
            with contextlib.suppress(Exception):
                shutdown_kernel(self.page)
            with contextlib.suppress(Exception):
                self.context.close()
        with contextlib.suppress(Exception):
            self.server.shutdown_kernels()
        self.path = self.context = self.page = self.result = None

    @contextlib.contextmanager
    def artifacts_on_failure(self, name: str, root: Path = ARTIFACTS):
        """On an exception: save a screenshot, the cells' text, the console log and the server log; name the folder."""
        try:
            yield
        except (Exception, pytest.fail.Exception) as exc:
            folder = root / re.sub(r"[^\w.-]+", "_", name)
            folder.mkdir(parents=True, exist_ok=True)
            if self.page is not None:
                with contextlib.suppress(Exception):
                    (folder / "cells.txt").write_text(transcript(self.page) + "\n", encoding="utf-8")
                with contextlib.suppress(Exception):
                    self.page.screenshot(path=folder / "screenshot.png")
            (folder / "console.log").write_text("\n".join(self.console) + "\n", encoding="utf-8")
            with contextlib.suppress(OSError):
                shutil.copy(self.server.log_path, folder / "jupyterlab.log")
            note = f"browser test artifacts (screenshot.png, cells.txt, console.log, jupyterlab.log): {folder}"
            print(note, file=sys.stderr)
            if hasattr(exc, "add_note"):  # Python 3.11+: pytest shows the note under the failure
                exc.add_note(note)
            raise


def _quietly(close):
    with contextlib.suppress(Exception):
        close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} is missing; `bash scripts/setup.sh --test` installs Chromium"
        if os.environ.get("CI"):
            pytest.fail(missing)  # in CI the set-up installs it: never skip the browser test silently
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "root"
    root.mkdir()
    if (ROOT / "notebooks").is_dir():  # a copy: the repository's notebooks are never opened or changed
        shutil.copytree(ROOT / "notebooks", root / "notebooks",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "runs"))
        for notebook in (root / "notebooks").glob("*.ipynb"):
            strip_outputs(notebook)
    env = {**os.environ, "VAE_TUTORIAL_EPOCHS": EPOCHS}
    server = JupyterLabServer(root, base / "home", env)
    with contextlib.ExitStack() as stack:  # undone in reverse order, also on failure and Ctrl-C
        stack.callback(server.stop)
        server.start()
        playwright = sync_playwright().start()
        stack.callback(_quietly, playwright.stop)  # Ctrl-C may have ended Playwright's driver already
        browser_env = {**os.environ, "XDG_CONFIG_HOME": str(base / "browser"),
                       "XDG_CACHE_HOME": str(base / "browser")}
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                             env=browser_env)
        stack.callback(_quietly, browser.close)
        session = Lab(server, browser)
        stack.callback(session.close)
        yield session


@pytest.mark.parametrize("notebook", [nb.name for nb in NOTEBOOKS])
def test_notebook_runs_in_jupyterlab(lab, notebook):
    path = f"notebooks/{notebook}"
    with lab.artifacts_on_failure(f"run-{notebook}"):
        result = lab.run(path)
        if result.errors:
            pytest.fail("a cell raised in JupyterLab:\n" + result.error_report(), pytrace=False)
        assert result.executed == result.total, f"{path}: {result.executed} of {result.total} code cells ran"
        found = rendered_images(lab.page)
        expected = png_outputs(ROOT / "notebooks" / notebook) or MIN_FIGURES.get(notebook[:2], 1)
        assert not found["widgetErrors"], f"{path}: widgets failed to display: {found['widgetErrors']}"
        assert not found["widgetsLoading"], f"{path}: {found['widgetsLoading']} widgets never finished loading"
        assert found["pngOutputs"] >= expected, (
            f"{path}: {found['pngOutputs']} image/png outputs, expected at least {expected}")
        broken = [img for img in found["images"] if not (img["complete"] and img["width"] and img["height"])]
        assert len(found["images"]) >= found["pngOutputs"] and not broken, (
            f"{path}: {found['pngOutputs']} PNG outputs but {len(found['images'])} <img> elements, "
            f"{len(broken)} not loaded: {broken}")
    print(f"{path}: {result.executed} code cells in {result.seconds:.0f} s, {found['pngOutputs']} figures")


@pytest.mark.skipif(EXPLORER_NOTEBOOK is None, reason="no notebooks/06_*.ipynb")
def test_explorer_follows_sliders(lab):
    path = f"notebooks/{EXPLORER_NOTEBOOK}"
    with lab.artifacts_on_failure("explorer"):
        result = lab.run(path)
        if result.errors:
            pytest.fail("the explorer notebook raised:\n" + result.error_report(), pytrace=False)
        explorer = lab.page.locator(".vae-explorer").first
        explorer.wait_for(state="attached", timeout=60_000)
        explorer.scroll_into_view_if_needed()
        snapshot = explorer_snapshot(explorer)
        assert snapshot["pictures"], "the explorer has no picture with class vae-explorer-image"
        assert snapshot["labels"], "the explorer has no label with class vae-explorer-label"
        for slider in ("vae-latent-slider", "vae-temperature-slider", "vae-interpolation-slider"):
            keys = ["PageUp", "ArrowRight"]  # noUiSlider: five steps up, then one more
            moved = move_slider_and_wait(lab.page, explorer, slider, keys)
            print(f"{slider}: value {moved['value'][0]} -> {moved['value'][1]}, label "
                  f"{moved['before']['labels']} -> {moved['after']['labels']}")
        # Across its whole range (End, then Home: from +3 to -3 standard deviations) the first slider must change
        # the picture visibly.
        move_slider_and_wait(lab.page, explorer, "vae-latent-slider", ["End"])
        moved = move_slider_and_wait(lab.page, explorer, "vae-latent-slider", ["Home"])
        change = picture_change(lab.page, moved["before"]["pictures"][0]["pixels"],
                                moved["after"]["pictures"][0]["pixels"])
        print(f"vae-latent-slider: value {moved['value'][0]} -> {moved['value'][1]}: the picture changed by "
              f"{change:.3f} (mean absolute difference)")
        assert change >= VISIBLE_CHANGE, (
            f"moving the first direction's slider from one end to the other changed the picture by {change:.3f} "
            f"only (mean absolute difference of pixel values in [0, 1]; at least {VISIBLE_CHANGE} expected)")
        moved = upload_and_wait(lab.page, explorer, "vae-upload", picture_file("my-red-disc.png"))
        assert any("my-red-disc.png" in label for label in moved["after"]["labels"]), moved["after"]["labels"]
        print(f"upload: label {moved['after']['labels']}")


def picture_file(name: str) -> dict:
    """A Playwright file payload: a 96×80 PNG of a red disc on white, not square, so the upload is cropped."""
    import io

    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (96, 80), "white")
    ImageDraw.Draw(picture).ellipse((20, 12, 76, 68), fill=(220, 30, 30))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return {"name": name, "mimeType": "image/png", "buffer": buffer.getvalue()}


# --- Self-checks: the harness catches a raising cell, a dead kernel and a frozen explorer (fast, no TensorFlow).

FROZEN = "FROZEN = {frozen}\n"
TOY_EXPLORER = """\
import io
import ipywidgets as widgets
from PIL import Image

def picture(value):
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (int(value * 25) % 256, 40, 200)).save(buf, format="PNG")
    return buf.getvalue()

image = widgets.Image(value=picture(0), format="png")
image.add_class("vae-explorer-image")
label = widgets.Label("value 0.0")
label.add_class("vae-explorer-label")
slider = widgets.FloatSlider(value=0, min=0, max=10, step=0.5, description="z[0]")
slider.add_class("vae-latent-slider")

def update(change):
    if not FROZEN:
        image.value = picture(change["new"])
        label.value = f"value {change['new']}"

slider.observe(update, names="value")

upload = widgets.FileUpload(accept="image/*")
upload.add_class("vae-upload")
uploaded = widgets.Image(value=b"", format="png")
uploaded.add_class("vae-explorer-image")
upload_label = widgets.Label("nothing uploaded")
upload_label.add_class("vae-explorer-label")

def show_upload(change):
    if not FROZEN and change["new"]:
        uploaded.value = bytes(change["new"][-1]["content"])
        upload_label.value = f"uploaded {change['new'][-1]['name']}"

upload.observe(show_upload, names="value")
box = widgets.VBox([widgets.VBox([slider, image, label]), widgets.VBox([upload, upload_label, uploaded])])
box.add_class("vae-explorer")
box
"""


@pytest.mark.timeout(300)
def test_harness_reports_a_raising_cell(lab, tmp_path):
    write_notebook(lab.server.root / "selfcheck" / "raises.ipynb", [
        # The kernel runs this interpreter, imports this checkout's package and trains for the test's epochs.
        f"import os, sys, vae_tutorial\nassert sys.executable == {sys.executable!r}, sys.executable\n"
        f"assert vae_tutorial.__file__.startswith({str(ROOT)!r}), vae_tutorial.__file__\n"
        f"assert os.environ['VAE_TUTORIAL_EPOCHS'] == {EPOCHS!r}",
        "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()",
        "raise RuntimeError('deliberate failure for the self-check')",
        "print('never runs')",
    ])
    with lab.artifacts_on_failure("selfcheck-raises"):
        result = lab.run("selfcheck/raises.ipynb")
        assert [e["index"] for e in result.errors] == [2], result.error_report()
        assert "RuntimeError: deliberate failure for the self-check" in result.error_report()
        assert result.executed == 3 and result.total == 4  # Run All stopped at the error
        found = rendered_images(lab.page)
        assert found["pngOutputs"] == 1 and len(found["images"]) == 1 and found["images"][0]["width"] > 0
    with pytest.raises(pytest.fail.Exception), lab.artifacts_on_failure("raises", root=tmp_path):
        pytest.fail("deliberate")
    saved = {path.name for path in (tmp_path / "raises").iterdir()}
    assert saved == {"screenshot.png", "cells.txt", "console.log", "jupyterlab.log"}, saved
    assert "deliberate failure for the self-check" in (tmp_path / "raises" / "cells.txt").read_text()


@pytest.mark.timeout(300)
def test_harness_reports_a_dead_kernel(lab):
    write_notebook(lab.server.root / "selfcheck" / "dies.ipynb", ["import os\nos._exit(1)", "print('never runs')"])
    with pytest.raises(AssertionError, match=r"the kernel died \(\w+\) after 0 of 2 code cells; next cell 0"):
        lab.run("selfcheck/dies.ipynb")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("frozen", [False, True], ids=["updating", "frozen"])
def test_harness_sees_whether_explorer_updates(lab, frozen):
    name = f"selfcheck/explorer_{'frozen' if frozen else 'updating'}.ipynb"
    write_notebook(lab.server.root / name, [FROZEN.format(frozen=frozen), TOY_EXPLORER])
    with lab.artifacts_on_failure(f"selfcheck-explorer-{frozen}"):
        assert not lab.run(name).errors
        explorer = lab.page.locator(".vae-explorer").first
        explorer.wait_for(state="attached", timeout=60_000)
    if not frozen:
        moved = move_slider_and_wait(lab.page, explorer, "vae-latent-slider", ["PageUp"], timeout=30)
        assert moved["after"]["labels"] != moved["before"]["labels"]
        # the toy's red channel goes from 0 to 25 · 2.5 (PageUp: five steps of 0.5): a change of 62/255 in one of 3
        change = picture_change(lab.page, moved["before"]["pictures"][0]["pixels"],
                                moved["after"]["pictures"][0]["pixels"])
        assert change == pytest.approx(62 / 255 / 3, abs=1e-3), change
        assert picture_change(lab.page, *[moved["after"]["pictures"][0]["pixels"]] * 2) == 0
        moved = upload_and_wait(lab.page, explorer, "vae-upload", picture_file("disc.png"), timeout=30)
        assert moved["after"]["labels"][-1] == "uploaded disc.png", moved["after"]["labels"]
    else:
        with pytest.raises(AssertionError, match=r"its value moved.*picture pixels changed: False"):
            move_slider_and_wait(lab.page, explorer, "vae-latent-slider", ["PageUp"], timeout=5)
        with pytest.raises(AssertionError, match=r"uploading 'disc.png'.*picture pixels changed: False"):
            upload_and_wait(lab.page, explorer, "vae-upload", picture_file("disc.png"), timeout=5)

"""The notebooks in a real browser: JupyterLab in Chromium, driven by Playwright, the way a student meets them.

What only a browser can check, without running the notebooks again: nbval runs each notebook once per suite, with
its exercises solved (``build/notebooks/``, ``scripts/test.sh``), and its asserts check what the cells compute.

1. Every committed notebook opens in JupyterLab as it is, without running it: no cell shows an error, every
   committed figure (image/png output) renders as a loaded image, and every committed widget renders from the
   notebook's saved widget state (the copies are trusted, as `jupyter trust` does, or they show text only).
2. The explorer (``LatentExplorer``, notebook 6): a small notebook written into the server's folder trains a tiny
   VAE (``build_vae(fast=False)`` on 32×32 two-colour images, a few seconds) and shows the explorer. The test moves
   its sliders with the keyboard and checks that the picture and its label follow; the first direction's slider,
   moved from end to end, must change the picture in the page visibly and by what the kernel computes
   (``slider_effects``); then it uploads a picture through the file chooser and checks that the upload panel shows
   it.
3. Self-checks: the harness reports a committed error, a figure that does not load and a widget that does not
   render; a raising cell and a dead kernel under Run All; an explorer whose picture does not follow its slider.

The server runs over a temporary copy of ``notebooks/`` and the browser is Debian's Chromium (``scripts/setup.sh
--test`` installs it). On failure a screenshot, the cells' text, the page's console log and the server log are saved
under ``test-artifacts/browser/``; the output names the folder.
"""

import base64
import contextlib
import io
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from lab_harness import (CHROMIUM_ARGS, JupyterLabServer, explorer_snapshot, move_slider_and_wait, notebook_state,
                         open_notebook, picture_change, png_outputs, rendered_images, run_all, shutdown_kernel,
                         transcript, trust, upload_and_wait, write_notebook)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("VAE_TUTORIAL_CHROMIUM", "/usr/bin/chromium")
RUN_TIMEOUT = 300  # seconds for one Run All (the explorer's notebook, the self-checks); a hang names its cell

# Figures each notebook draws (its plot_* and visualize_batch calls): its committed outputs must hold at least these.
MIN_FIGURES = {"01": 1, "02": 1, "03": 2, "04": 1, "05": 2, "06": 6}
# The first explorer slider moves z along the direction in which the codes vary most: from one end of its range to
# the other (+3 to -3 standard deviations) it must change the picture by at least this mean absolute difference of
# pixel values in [0, 1]; the tiny model below changes it by 0.25. (A slider on one latent dimension of a
# trained model changed it by about 0.05, issue 20.) The change the page shows must be the one the kernel computes,
# up to the rounding of the PNG to 8 bits.
VISIBLE_CHANGE = 0.1
SAME_CHANGE = 0.01

pytestmark = [pytest.mark.slow, pytest.mark.timeout(RUN_TIMEOUT + 300)]


class Lab:
    """One JupyterLab server and one Chromium for the module; one notebook page open at a time."""

    def __init__(self, server, browser):
        self.server, self.browser = server, browser
        self.path = self.context = self.page = self.result = None
        self.console: list[str] = []

    def open(self, path: str):
        """Open ``path`` in a fresh page, as it is on disk, and wait for its kernel to be idle."""
        self.close()
        self.console = []
        self.context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.on("console", lambda msg: self.console.append(f"[{msg.type}] {msg.text}"))
        self.page.on("pageerror", lambda err: self.console.append(f"[pageerror] {err}"))
        open_notebook(self.page, self.server, path)

    def run(self, path: str):
        """Open ``path`` in a fresh page and Run All."""
        self.open(path)
        self.result = run_all(self.page, path, timeout=RUN_TIMEOUT)
        self.path = path
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
    if (ROOT / "notebooks").is_dir():  # a copy, outputs and all: the repository's notebooks are never changed
        shutil.copytree(ROOT / "notebooks", root / "notebooks",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "runs"))
    # The kernels import this checkout's package, also where another checkout's is installed in the environment.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    server = JupyterLabServer(root, base / "home", {**os.environ, "PYTHONPATH": path})
    for notebook in root.glob("notebooks/*.ipynb"):  # their committed widgets render from the saved state
        trust(notebook, server)
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


def committed_problems(lab, path: str, committed: Path, min_figures: int = 0) -> list[str]:
    """Open ``path`` without running it; what is wrong with how its committed outputs show (empty when nothing):
    error outputs, figures (image/png outputs) missing or not loaded, widgets that do not render."""
    lab.open(path)
    problems = [f"cell {err['index']} shows an error: {err['ename']}: {err['evalue']}"
                for err in notebook_state(lab.page)["errors"]]
    found = rendered_images(lab.page)
    expected = png_outputs(committed)
    if found["pngOutputs"] != expected or expected < min_figures:
        problems.append(f"the page holds {found['pngOutputs']} image/png outputs, the file {expected} "
                        f"(at least {min_figures} expected)")
    broken = [img for img in found["images"] if not (img["complete"] and img["width"] and img["height"])]
    if len(found["images"]) != found["pngOutputs"] or broken:
        problems.append(f"{found['pngOutputs']} image/png outputs but {len(found['images'])} <img> elements, "
                        f"{len(broken)} not loaded: {broken}")
    if found["widgetErrors"]:
        problems.append(f"widgets failed to display: {found['widgetErrors']}")
    if found["widgetsLoading"]:
        problems.append(f"{found['widgetsLoading']} widgets never finished loading")
    if found["widgetsShown"] != found["widgetOutputs"]:
        problems.append(f"{found['widgetOutputs']} widget outputs, {found['widgetsShown']} widgets shown")
    broken = [img for img in found["widgetImages"] if not (img["complete"] and img["width"] and img["height"])]
    if broken:
        problems.append(f"{len(broken)} of {len(found['widgetImages'])} pictures in widgets not loaded: {broken}")
    print(f"{path}: {found['pngOutputs']} figures and {found['widgetsShown']} widgets rendered, "
          f"{len(found['widgetImages'])} pictures in widgets")
    return problems


@pytest.mark.parametrize("notebook", [nb.name for nb in NOTEBOOKS])
def test_committed_notebook_renders_in_jupyterlab(lab, notebook):
    with lab.artifacts_on_failure(f"open-{notebook}"):
        problems = committed_problems(lab, f"notebooks/{notebook}", ROOT / "notebooks" / notebook,
                                      MIN_FIGURES.get(notebook[:2], 1))
        assert not problems, f"notebooks/{notebook} as committed, opened in JupyterLab:\n" + "\n".join(problems)


# The explorer's notebook: the kernel is this interpreter with this checkout's package; a tiny VAE trained for a few
# seconds on two-colour images (each half of an image one random colour), and its explorer.
EXPLORER_CELLS = [
    f"import os, sys, vae_tutorial\nassert sys.executable == {sys.executable!r}, sys.executable\n"
    f"assert vae_tutorial.__file__.startswith({str(ROOT)!r}), vae_tutorial.__file__",
    """\
import keras
import numpy as np
from vae_tutorial.course.widgets import LatentExplorer
from vae_tutorial.training import build_vae

colours = np.random.default_rng(0).random((64, 2, 1, 1, 3)).astype("float32")
images = np.repeat(np.repeat(colours, 16, axis=2), 32, axis=3).reshape(64, 32, 32, 3)
keras.utils.set_random_seed(0)
model = build_vae(fast=False, latent_dim=4, image_size=32, learning_rate=3e-3, seed=0)
model.fit(images, epochs=20, batch_size=16, verbose=0)
explorer = LatentExplorer.from_images(model, images)
print(f"slider effects: {' '.join(f'{e:.6f}' for e in explorer.slider_effects())}")""",
    "explorer",
]


def test_explorer_follows_sliders(lab):
    path = "explorer/explorer.ipynb"
    write_notebook(lab.server.root / path, EXPLORER_CELLS)
    with lab.artifacts_on_failure("explorer"):
        result = lab.run(path)
        if result.errors:
            pytest.fail("the explorer notebook raised:\n" + result.error_report(), pytrace=False)
        effect = float(re.search(r"^slider effects: ([\d.]+)", transcript(lab.page), re.M).group(1))
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
        # the picture visibly, and by as much as the kernel's slider_effects says.
        move_slider_and_wait(lab.page, explorer, "vae-latent-slider", ["End"])
        moved = move_slider_and_wait(lab.page, explorer, "vae-latent-slider", ["Home"])
        change = picture_change(lab.page, moved["before"]["pictures"][0]["pixels"],
                                moved["after"]["pictures"][0]["pixels"])
        print(f"vae-latent-slider: value {moved['value'][0]} -> {moved['value'][1]}: the picture changed by "
              f"{change:.3f} (mean absolute difference); the kernel's slider_effects: {effect:.3f}")
        assert change >= VISIBLE_CHANGE and abs(change - effect) <= SAME_CHANGE, (
            f"moving the first direction's slider from one end to the other changed the picture in the page by "
            f"{change:.3f} (mean absolute difference of pixel values in [0, 1]); the kernel computes {effect:.3f}, "
            f"and at least {VISIBLE_CHANGE} is expected")
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


# --- Self-checks: the harness catches a committed error, a figure that does not load, a widget that does not
# render, a raising cell, a dead kernel and a frozen explorer (fast, no TensorFlow).

def _display(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


@pytest.mark.timeout(300)
def test_harness_reports_what_does_not_render(lab):
    import ipywidgets
    from ipywidgets.embed import dependency_state
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 200)).save(buffer, format="PNG")
    good_png = base64.b64encode(buffer.getvalue()).decode()
    bad_png = base64.b64encode(b"\x89PNG\r\n\x1a\n not a picture").decode()
    label = ipywidgets.Label("a saved label")
    view = "application/vnd.jupyter.widget-view+json"
    widget = {view: {"model_id": label.model_id, "version_major": 2, "version_minor": 0}, "text/plain": "Label()"}
    lost = {view: {"model_id": "0" * 32, "version_major": 2, "version_minor": 0}, "text/plain": "Label()"}
    picture = ipywidgets.VBox([ipywidgets.Label("a picture:"), ipywidgets.Image(value=b"not a picture", format="png")])
    broken_picture = {view: {"model_id": picture.model_id, "version_major": 2, "version_minor": 0},
                      "text/plain": "VBox()"}
    cells = [("figure_and_widget()", [_display({"image/png": good_png, "text/plain": "<Figure>"}), _display(widget)]),
             ("1 / 0", [{"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero",
                         "traceback": ["ZeroDivisionError: division by zero"]}]),
             ("broken_figure()", [_display({"image/png": bad_png, "text/plain": "<Figure>"})]),
             ("lost_widget()", [_display(lost)]),
             ("broken_picture()", [_display(broken_picture)])]
    path = lab.server.root / "selfcheck" / "committed.ipynb"
    write_notebook(path, cells, widget_state=dependency_state([label, picture]))
    trust(path, lab.server)
    with lab.artifacts_on_failure("selfcheck-committed"):
        problems = committed_problems(lab, "selfcheck/committed.ipynb", path, min_figures=3)
    assert problems == [
        "cell 1 shows an error: ZeroDivisionError: division by zero",
        "the page holds 2 image/png outputs, the file 2 (at least 3 expected)",
        "2 image/png outputs but 2 <img> elements, 1 not loaded: [{'width': 0, 'height': 0, 'complete': True}]",
        problems[3] if problems[3].startswith("widgets failed to display: ['Error displaying widget") else "?",
        "3 widget outputs, 2 widgets shown",
        "1 of 1 pictures in widgets not loaded: [{'width': 0, 'height': 0, 'complete': True}]",
    ], problems
    # The same notebook without what is wrong: nothing to report.
    write_notebook(path, cells[:1], widget_state=dependency_state([label]))
    trust(path, lab.server)
    with lab.artifacts_on_failure("selfcheck-committed-good"):
        assert committed_problems(lab, "selfcheck/committed.ipynb", path, min_figures=1) == []


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
        "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()",
        "raise RuntimeError('deliberate failure for the self-check')",
        "print('never runs')",
    ])
    with lab.artifacts_on_failure("selfcheck-raises"):
        result = lab.run("selfcheck/raises.ipynb")
        assert [e["index"] for e in result.errors] == [1], result.error_report()
        assert "RuntimeError: deliberate failure for the self-check" in result.error_report()
        assert result.executed == 2 and result.total == 3  # Run All stopped at the error
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

"""Drive JupyterLab in Chromium the way a student does: a private server, a real page, a notebook opened as it is
committed or run with Run All.

Used by ``test_browser.py``. The server runs over a temporary folder with its own token and its own Jupyter
config, data and runtime folders; ``JupyterLabServer.stop`` always ends it and every process it started.
"""

import contextlib
import ctypes
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-breakpad",
                 # Offline: no name resolves except the local server (the notebooks' Binder badge stays unloaded).
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# JupyterLab user settings for the private server: no news feed, no update check (no network at run time).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    # Every cell and output in the page from the start, not only those scrolled near (the checks count them all).
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def png_outputs(notebook: Path) -> int:
    """How many image/png outputs a notebook file holds (its committed outputs)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return sum("image/png" in out.get("data", {})
               for cell in nb["cells"] if cell["cell_type"] == "code" for out in cell.get("outputs", []))


def write_notebook(path: Path, cells: list, widget_state: dict | None = None) -> Path:
    """A minimal nbformat 4 notebook, one code cell per entry (for the harness's self-checks and the explorer): a
    source, or a pair (source, outputs) for a cell with committed outputs; ``widget_state`` the saved widget
    models (``{model_id: {"model_name": ..., "model_module": ..., "model_module_version": ..., "state": ...}}``)."""
    cells = [cell if isinstance(cell, tuple) else (cell, []) for cell in cells]
    cells = [{"cell_type": "code", "execution_count": (i + 1) if outputs else None, "id": f"cell-{i}", "metadata": {},
              "outputs": outputs, "source": src} for i, (src, outputs) in enumerate(cells)]
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}
    if widget_state is not None:
        metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
            "state": widget_state, "version_major": 2, "version_minor": 0}}
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": metadata}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    return path


def trust(notebook: Path, server: "JupyterLabServer") -> None:
    """Sign ``notebook`` as trusted for ``server`` (its Jupyter data folder holds the signatures), as `jupyter trust`
    does, in this process: JupyterLab then renders its committed widgets from the saved widget state, which it does
    not for an untrusted notebook (there they show their text/plain form)."""
    import nbformat
    from nbformat.sign import NotebookNotary

    nb = nbformat.read(notebook, as_version=4)
    NotebookNotary(data_dir=str(server.home / "data")).sign(nb)


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 even where a proxy is set


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent():
    """In the server's child process: get SIGTERM if pytest itself is killed (Linux), so it never outlives us."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class JupyterLabServer:
    """``python -m jupyterlab`` over ``root`` on 127.0.0.1, a free port and a random token."""

    def __init__(self, root: Path, home: Path, env: dict[str, str]):
        self.root, self.home = root, home
        self.port = _free_port()
        self.token = secrets.token_hex(24)
        self.log_path = home / "jupyterlab.log"
        self.env = dict(env)
        for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH", "MPLBACKEND"):
            self.env.pop(name, None)  # nothing from the machine's Jupyter set-up; inline figures in the kernel
        for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                          ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
            self.env[name] = str(home / sub)
            (home / sub).mkdir(parents=True, exist_ok=True)
        for name, settings in LAB_SETTINGS.items():
            path = home / "config" / "lab" / "user-settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings))
        self.proc = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The page that opens ``path`` (relative to root) in a fresh workspace, logged in with the token."""
        return f"{self.base_url}/lab/tree/{path}?reset&token={self.token}"

    def start(self, timeout: float = 120) -> None:
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
               f"--port={self.port}", "--port-retries=0", f"--ServerApp.root_dir={self.root}",
               f"--IdentityProvider.token={self.token}", "--LabApp.expose_app_in_browser=True",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False"]
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with status {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str):
        """One REST call with the token; the decoded JSON answer (None when empty)."""
        req = urllib.request.Request(self.base_url + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with _NO_PROXY.open(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Shut down kernels and server politely, then kill the process group and any kernel left over."""
        if self.proc is None:
            return
        try:
            family = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            family = []
        if self.proc.poll() is None:
            try:
                self.api("POST", "/api/shutdown")
                self.proc.wait(timeout=30)
            except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
                pass
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.proc.wait()
        # Kernels run in process groups of their own; end any that outlived the server.
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            alive = [p for p in family if p.is_running()]
            for p in alive:
                with contextlib.suppress(psutil.Error):
                    p.send_signal(sig)
            psutil.wait_procs(alive, timeout=wait)
        self.proc = None


# --- The page: open a notebook, run all cells, read back what happened. -----------------------------------------

# The NotebookPanel on screen, or null while JupyterLab is still starting.
_PANEL = "(() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;" \
         " return w && w.content && w.sessionContext ? w : null; })()"

_READY_JS = f"""() => {{
  const panel = {_PANEL};
  if (!panel || !panel.context.isReady || !panel.sessionContext.isReady) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return {{path: panel.context.path, kernel: kernel ? kernel.status : null,
          kernelName: kernel ? kernel.name : null}};
}}"""

_STATE_JS = f"""() => {{
  const panel = {_PANEL};
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [], errors = [];
  panel.content.widgets.forEach((cell, index) => {{
    const model = cell.model;
    if (model.type !== 'code') return;
    const source = model.sharedModel.getSource();
    for (const out of model.outputs.toJSON()) {{
      if (out.output_type === 'error')
        errors.push({{index, source: source.slice(0, 300), ename: out.ename, evalue: out.evalue,
                     traceback: (out.traceback || []).join('\\n')}});
    }}
    cells.push({{index, source: source.slice(0, 120), empty: source.trim() === '',
                count: model.executionCount, running: model.executionState === 'running'}});
  }});
  return {{kernel: kernel ? kernel.status : null, cells, errors, runAllError: window.__runAllError || null,
          kernelTrouble: window.__kernelTrouble || null}};
}}"""

_IMAGES_JS = f"""async () => {{
  const panel = {_PANEL};
  let pngOutputs = 0, widgetOutputs = 0;
  for (const cell of panel.content.widgets) {{
    if (cell.model.type !== 'code') continue;
    for (const out of cell.model.outputs.toJSON()) {{
      if (out.data && out.data['image/png']) pngOutputs += 1;
      if (out.data && out.data['application/vnd.jupyter.widget-view+json']) widgetOutputs += 1;
    }}
  }}
  const images = [];
  for (const img of panel.content.node.querySelectorAll('.jp-RenderedImage img')) {{
    img.scrollIntoView({{block: 'center'}});
    try {{ await img.decode(); }} catch (e) {{}}
    images.push({{width: img.naturalWidth, height: img.naturalHeight, complete: img.complete}});
  }}
  // A widget output that rendered holds a widget's element, and it takes room on the page.
  let widgetsShown = 0;
  for (const output of panel.content.node.querySelectorAll('.jp-OutputArea-output')) {{
    const widget = [...output.children].find(child => child.classList.contains('jupyter-widgets'));
    if (!widget) continue;
    output.scrollIntoView({{block: 'center'}});
    if (widget.getBoundingClientRect().height > 0) widgetsShown += 1;
  }}
  // Pictures inside widgets (the explorer's, from the saved widget state): those with a source must load.
  const widgetImages = [];
  for (const img of panel.content.node.querySelectorAll('.jp-OutputArea-output .jupyter-widgets img')) {{
    if (!img.getAttribute('src')) continue;
    img.scrollIntoView({{block: 'center'}});
    try {{ await img.decode(); }} catch (e) {{}}
    widgetImages.push({{width: img.naturalWidth, height: img.naturalHeight, complete: img.complete}});
  }}
  const text = panel.content.node.innerText;
  return {{pngOutputs, images, widgetOutputs, widgetsShown, widgetImages,
          widgetErrors: (text.match(/Error displaying widget[^\\n]*/g) || []),
          widgetsLoading: (text.match(/Loading widget\\.\\.\\./g) || []).length}};
}}"""


@dataclass
class RunResult:
    """What Run All left behind: errors (cell index, ename, evalue, traceback), cells executed, time taken."""
    path: str
    errors: list[dict] = field(default_factory=list)
    executed: int = 0
    total: int = 0
    seconds: float = 0.0

    def error_report(self) -> str:
        lines = []
        for err in self.errors:
            tb = ANSI.sub("", err["traceback"]).strip().splitlines()
            lines.append(f"{self.path}: cell {err['index']} raised {err['ename']}: {err['evalue']}\n"
                         f"  cell source: {err['source'][:200]!r}\n  " + "\n  ".join(tb[-12:]))
        return "\n".join(lines)


def open_notebook(page, server: JupyterLabServer, path: str, timeout: float = 180) -> dict:
    """Open ``path`` in JupyterLab and wait until its kernel is started and idle."""
    page.goto(server.url(path), wait_until="domcontentloaded")
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(_READY_JS)
        if state and state["path"] == path and state["kernel"] == "idle":
            return state
        time.sleep(0.5)
    raise AssertionError(f"{path}: the notebook did not open with an idle kernel within {timeout:.0f} s "
                         f"(last state: {state}). A kernel-selection dialog or a missing kernel spec stops it.")


def notebook_state(page) -> dict:
    """The open notebook as the page holds it: kernel status, code cells (index, source, execution count) and the
    error outputs (index, ename, evalue, traceback)."""
    return page.evaluate(_STATE_JS)


def run_all(page, path: str, timeout: float) -> RunResult:
    """Run All, then wait until every code cell has run and the kernel is idle, or an error output appears.

    Run All stops at the first error, so an error output ends the wait early.
    """
    start = time.monotonic()
    page.evaluate(f"""() => {{
      const panel = {_PANEL};
      window.__runAllError = null;
      window.__kernelTrouble = null;  // a kernel that dies is restarted and turns idle: remember it died
      panel.sessionContext.statusChanged.connect((_, status) => {{
        if (['dead', 'autorestarting', 'restarting'].includes(status)) window.__kernelTrouble = status;
      }});
      window.jupyterapp.commands.execute('notebook:run-all-cells')
        .catch(e => {{ window.__runAllError = String(e); }});
    }}""")
    settled = 0
    while True:
        state = page.evaluate(_STATE_JS)
        todo = [c for c in state["cells"] if not c["empty"]]
        done = [c for c in todo if c["count"] is not None and not c["running"]]
        result = RunResult(path, state["errors"], len(done), len(todo), time.monotonic() - start)
        if state["runAllError"]:
            raise AssertionError(f"{path}: Run All failed in the page: {state['runAllError']}")
        if state["kernelTrouble"]:
            running = next((c for c in todo if c["count"] is None), None)
            raise AssertionError(f"{path}: the kernel died ({state['kernelTrouble']}) after {len(done)} of "
                                 f"{len(todo)} code cells; next cell {running and running['index']}: "
                                 f"{running and running['source']!r}")
        finished = len(done) == len(todo) and state["kernel"] == "idle"
        if state["errors"] or finished:
            settled += 1
            if settled >= 2 or (state["errors"] and state["kernel"] == "idle"):
                return result
        else:
            settled = 0
        if time.monotonic() - start > timeout:
            running = next((c for c in todo if c["running"] or c["count"] is None), None)
            raise AssertionError(
                f"{path}: Run All did not finish within {timeout:.0f} s: {len(done)} of {len(todo)} code cells "
                f"ran, kernel {state['kernel']}; waiting on cell {running and running['index']}: "
                f"{running and running['source']!r}")
        time.sleep(1)


def rendered_images(page, timeout: float = 60) -> dict:
    """The notebook's image/png outputs and the <img> elements rendering them, once widgets have loaded."""
    deadline = time.monotonic() + timeout
    while True:
        found = page.evaluate(_IMAGES_JS)
        if not found["widgetsLoading"] or time.monotonic() > deadline:
            return found
        time.sleep(1)


_TRANSCRIPT_JS = f"""() => {{
  const panel = {_PANEL};
  if (!panel) return null;
  const parts = [];
  let firstError = null;
  panel.content.widgets.forEach((cell, index) => {{
    if (cell.model.type !== 'code') return;
    parts.push(`--- cell ${{index}} [${{cell.model.executionCount ?? ' '}}]\\n${{cell.model.sharedModel.getSource()}}`);
    for (const out of cell.model.outputs.toJSON()) {{
      if (out.output_type === 'stream') parts.push(`>>> ${{out.name}}\\n${{[].concat(out.text).join('')}}`);
      else if (out.output_type === 'error') {{
        parts.push(`>>> error\\n${{(out.traceback || []).join('\\n')}}`);
        if (firstError === null) firstError = cell;
      }} else parts.push(`>>> ${{out.output_type}}: ${{Object.keys(out.data || {{}}).join(', ')}}`);
    }}
  }});
  if (firstError) firstError.node.scrollIntoView({{block: 'center'}});
  return parts.join('\\n');
}}"""


def transcript(page) -> str:
    """Every code cell's source and text outputs (for the failure artifacts); scrolls to the first error."""
    return ANSI.sub("", page.evaluate(_TRANSCRIPT_JS) or "")


def shutdown_kernel(page) -> None:
    page.evaluate(f"async () => {{ const panel = {_PANEL}; if (panel) await panel.sessionContext.shutdown(); }}")


# --- The explorer: snapshots of its pictures and labels, and moving its sliders. ---------------------------------

_EXPLORER_JS = """(root) => {
  const pictures = [...root.querySelectorAll('img.vae-explorer-image, .vae-explorer-image img')].map(img => {
    let pixels = null;
    if (img.complete && img.naturalWidth > 0) {
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      canvas.getContext('2d').drawImage(img, 0, 0);
      pixels = canvas.toDataURL('image/png');
    }
    return {src: img.getAttribute('src'), width: img.naturalWidth, height: img.naturalHeight, pixels,
            complete: img.complete};
  });
  const labels = [...root.querySelectorAll('.vae-explorer-label')].map(el => el.innerText.trim());
  const readouts = [...root.querySelectorAll('.widget-readout')].map(el => el.innerText.trim());
  return {pictures, labels, readouts};
}"""


def explorer_snapshot(explorer) -> dict:
    """Pixels (as PNG data URLs), sources and labels of the explorer's pictures, plus the sliders' readouts."""
    return explorer.evaluate(_EXPLORER_JS)


def _settled_snapshot(explorer, timeout: float = 30) -> dict:
    """A snapshot once two in a row, half a second apart, agree and no picture in them is still loading: updates
    on their way have landed. (A picture whose new source is loading has no pixels yet: a snapshot taken then is
    not a state the explorer rests in. An empty picture, such as the upload panel's before an upload, is at rest.)"""
    deadline = time.monotonic() + timeout
    last = explorer_snapshot(explorer)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = explorer_snapshot(explorer)
        if now == last and all(p["complete"] for p in now["pictures"]):
            return now
        last = now
    raise AssertionError(f"the explorer kept changing, or a picture kept loading, for {timeout:.0f} s without any "
                         f"input: {[(p['width'], p['height'], p['complete']) for p in last['pictures']]}")


def _changed(before: list, after: list) -> bool:
    return len(before) != len(after) or any(a != b for a, b in zip(before, after))


def _panel_of(element, what: str):
    """The explorer panel of ``element``: its closest ancestor that holds both a picture and a label."""
    panel = element.evaluate_handle("""el => { let n = el;
      while (n && !(n.querySelector('.vae-explorer-image') && n.querySelector('.vae-explorer-label')))
        n = n.parentElement;
      return n; }""").as_element()
    if panel is None:
        raise AssertionError(f"no picture and label of the explorer around {what}")
    return panel


_DIFFERENCE_JS = """async ([a, b]) => {
  const load = src => new Promise((resolve, reject) => {
    const img = new Image(); img.onload = () => resolve(img); img.onerror = reject; img.src = src; });
  const [first, second] = await Promise.all([load(a), load(b)]);
  if (first.naturalWidth !== second.naturalWidth || first.naturalHeight !== second.naturalHeight) return 1;
  const rgba = img => { const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d'); context.drawImage(img, 0, 0);
    return context.getImageData(0, 0, canvas.width, canvas.height).data; };
  const p = rgba(first), q = rgba(second);
  let total = 0;
  for (let i = 0; i < p.length; i += 4)
    total += Math.abs(p[i] - q[i]) + Math.abs(p[i + 1] - q[i + 1]) + Math.abs(p[i + 2] - q[i + 2]);
  return total / (3 * (p.length / 4) * 255);
}"""


def picture_change(page, before: str, after: str) -> float:
    """The mean absolute difference of two pictures (PNG data URLs from a snapshot) over their pixels and RGB
    channels, with values in [0, 1] as the model's images have them; 1.0 when their sizes differ."""
    if not (before and after):
        raise AssertionError("picture_change needs two loaded pictures (PNG data URLs); one has no pixels")
    return float(page.evaluate(_DIFFERENCE_JS, [before, after]))


def upload_and_wait(page, explorer, upload_class: str, file: dict, timeout: float = 90) -> dict:
    """Click the file-upload button with ``upload_class``, choose ``file`` (a Playwright file payload: ``name``,
    ``mimeType``, ``buffer``) in the file chooser it opens, and wait until the picture and the label of its panel
    have changed.

    Returns the panel's snapshots before and after, each settled (no picture still loading). Fails with a message
    that says which part did not follow.
    """
    button = explorer.locator(f".{upload_class}").first
    if button.count() == 0:
        raise AssertionError(f"the explorer has no upload button with class {upload_class!r}")
    button.scroll_into_view_if_needed()
    panel = _panel_of(button, f"the {upload_class} upload button")
    before = _settled_snapshot(panel)
    with page.expect_file_chooser(timeout=30_000) as chooser:
        button.click()
    chooser.value.set_files(file)
    deadline = time.monotonic() + timeout
    while True:
        after = explorer_snapshot(panel)
        pixels_changed = _changed([p["pixels"] for p in before["pictures"]], [p["pixels"] for p in after["pictures"]])
        label_changed = _changed(before["labels"], after["labels"])
        if pixels_changed and label_changed:
            return {"before": before, "after": _settled_snapshot(panel)}
        if time.monotonic() > deadline:
            raise AssertionError(
                f"after uploading {file['name']!r} with the {upload_class} button, within {timeout:.0f} s: picture "
                f"pixels changed: {pixels_changed}; label changed: {label_changed} (label before "
                f"{before['labels']!r}, after {after['labels']!r})")
        time.sleep(0.5)


def move_slider_and_wait(page, explorer, slider_class: str, keys: list[str], timeout: float = 90) -> dict:
    """Press ``keys`` on the first handle of the slider with ``slider_class``; wait until the slider's value, the
    picture and the label of its panel have all changed.

    Returns the panel's snapshots before and after, each settled (no picture still loading). Fails with a message
    that says which part did not follow.
    """
    slider = explorer.locator(f".{slider_class}").first
    if slider.count() == 0:
        raise AssertionError(f"the explorer has no slider with class {slider_class!r}")
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    panel = _panel_of(slider, f"the {slider_class} slider")
    before = _settled_snapshot(panel)
    if not any(p["pixels"] for p in before["pictures"]):
        raise AssertionError(f"the explorer shows no loaded picture (class vae-explorer-image) before moving "
                             f"{slider_class}: {[(p['width'], p['height']) for p in before['pictures']]}")
    readout = slider.locator(".widget-readout").first
    value_before = readout.inner_text() if readout.count() else None
    handle.focus()
    for key in keys:
        page.keyboard.press(key)
    value_after = readout.inner_text() if readout.count() else None
    deadline = time.monotonic() + timeout
    while True:
        after = explorer_snapshot(panel)
        pixels_changed = _changed([p["pixels"] for p in before["pictures"]], [p["pixels"] for p in after["pictures"]])
        label_changed = _changed(before["labels"], after["labels"])
        if pixels_changed and label_changed and value_before != value_after:
            return {"before": before, "after": _settled_snapshot(panel), "value": (value_before, value_after)}
        if time.monotonic() > deadline:
            moved = "moved" if value_before != value_after else "did NOT move"
            raise AssertionError(
                f"after pressing {keys} on the {slider_class} handle (its value {moved}: {value_before!r} -> "
                f"{value_after!r}), within {timeout:.0f} s: picture pixels changed: {pixels_changed}; "
                f"label changed: {label_changed} (label before {before['labels']!r}, after {after['labels']!r})")
        time.sleep(0.5)

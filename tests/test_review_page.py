"""debrismap review's page in headless Chromium: keys and clicks -> review.json, a reload keeps
the decisions, and the page makes no network request (checked through a proxy that sees every
request the browser sends)."""

from __future__ import annotations

import html
import json
import re
import shutil
import socket
import subprocess
import threading

import numpy as np
import pytest
from test_heatmap_fixtures import clustered_piles, make_run

from debrismap.aggregate.run_folder import load_run
from debrismap.cli import main
from debrismap.review.file import load_review
from debrismap.review.summary import review_summary

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install chromium) — review page not run")
# Chromium's own services (clock, component updates, sign-in) that it calls despite the flags;
# they are the browser's requests, not the page's.
BROWSER_HOSTS = re.compile(rb"(google\.com|googleapis\.com|gstatic\.com|gvt1\.com)[:/ ]")

# Replays keys and clicks through real DOM events, then exports and prints the export to the DOM.
HARNESS = """<script>
(async function () {
  function key(k) { document.dispatchEvent(new KeyboardEvent("keydown", {key: k, bubbles: true})); }
  async function click(fx, fy) {
    var img = document.getElementById("cell-image");
    if (!img.complete) { await img.decode().catch(function () {}); }
    var svg = document.getElementById("cell-svg"), r = svg.getBoundingClientRect();
    svg.dispatchEvent(new MouseEvent("click", {clientX: r.left + fx * r.width,
                                               clientY: r.top + fy * r.height, bubbles: true}));
  }
  var steps = STEPS;
  for (var i = 0; i < steps.length; i++) {
    if (steps[i][0] === "key") { key(steps[i][1]); } else { await click(steps[i][1], steps[i][2]); }
  }
  key("3");
  var out = document.createElement("pre");
  out.id = "harness-out";
  out.textContent = document.getElementById("export").value;
  document.body.appendChild(out);
})();
</script>"""


class RequestRecorder:
    """A TCP listener used as Chromium's proxy: it records the first line of every request."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.lines: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                self.lines.append(conn.recv(4096).split(b"\r\n")[0])
            except OSError:
                self.lines.append(b"?")
            conn.close()

    def page_requests(self) -> list[bytes]:
        return [line for line in self.lines if not BROWSER_HOSTS.search(line)]


def run_page(page, profile, steps=None, proxy: RequestRecorder | None = None, strip_csp=False, extra=""):
    """Load a copy of the page (with the harness) in headless Chromium; return the DOM."""
    text = page.read_text(encoding="utf-8")
    if strip_csp:
        text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)
    harness = HARNESS.replace("STEPS", json.dumps(steps or []))
    copy = page.with_name("review-under-test.html")  # same file each time: one localStorage origin
    copy.write_text(text.replace("</body>", extra + harness + "</body>"), encoding="utf-8")
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--window-size=1200,1600"]
    if proxy is not None:
        flags += [f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=<-loopback>"]
    proc = subprocess.run([*flags, "--dump-dom", copy.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    return proc.stdout


def exported(dom: str) -> dict:
    match = re.search(r'<pre id="harness-out">(.*?)</pre>', dom, re.S)
    assert match, "the page did not run (no export in the DOM)"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture(scope="module")
def review_page(tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    piles = clustered_piles(90, seed=21, spread=250)
    scores = np.random.default_rng(21).uniform(0.25, 1.0, len(piles))
    run_dir = make_run(root / "run", piles, scores)
    assert main(["review", str(run_dir), "--cells", "6", "--detections", "8", "--seed", "3"]) == 0
    page = run_dir / "review.html"
    text = page.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="review-data">(.*?)</script>', text, re.S).group(1).replace("<\\/", "</"))
    return run_dir, page, data


def test_page_is_self_contained(review_page):
    _, page, data = review_page
    text = page.read_text(encoding="utf-8")
    assert "default-src 'none'" in text
    # the only URL in the page is the SVG namespace name, which is never fetched
    assert set(re.findall(r"""(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s"'<)]*""", text)) == {"http://www.w3.org/2000/svg"}
    assert "<link" not in text and "<script src" not in text
    assert text.count("data:image/jpeg;base64,") == len(data["design"]["cells"]["sample"]) + len(
        data["design"]["detections"]["sample"])


@needs_chromium
def test_keys_and_clicks_make_the_expected_review_and_survive_a_reload(review_page, tmp_path):
    run_dir, page, data = review_page
    profile = tmp_path / "profile"
    steps = [["key", "1"], ["key", "y"], ["key", "n"], ["key", "u"], ["key", "ArrowLeft"], ["key", "y"],
             ["key", "2"], ["click", 0.5, 0.5], ["click", 0.3, 0.3], ["click", 0.5, 0.5],  # 3rd removes 1st
             ["key", "d"], ["key", "x"], ["key", "d"]]
    doc = exported(run_page(page, profile, steps))
    dets = [u["id"] for u in data["design"]["detections"]["sample"]]
    cells = [u["id"] for u in data["design"]["cells"]["sample"]]
    assert doc["decisions"]["detections"] == {dets[0]: "yes", dets[1]: "no", dets[2]: "yes"}
    assert set(doc["decisions"]["cells"]) == {cells[0], cells[1], cells[2]}
    first = doc["decisions"]["cells"][cells[0]]
    assert first["status"] == "counted" and len(first["piles"]) == 1
    image = data["images"]["cells"][cells[0]]
    pile = first["piles"][0]
    assert pile["px"] == pytest.approx(0.3 * image["width"], abs=1.0)
    assert pile["py"] == pytest.approx(0.3 * image["height"], abs=1.0)
    a, b, c, d, e, f = image["transform"]
    assert pile["x"] == pytest.approx(a * pile["px"] + b * pile["py"] + c)
    assert pile["y"] == pytest.approx(d * pile["px"] + e * pile["py"] + f)
    assert doc["decisions"]["cells"][cells[1]] == {"status": "impossible", "piles": []}
    assert doc["decisions"]["cells"][cells[2]] == {"status": "counted", "piles": []}

    # A reload (a new browser on the same profile, no keys pressed) shows the same decisions.
    again = exported(run_page(page, profile, []))
    assert again["decisions"] == doc["decisions"]

    # The export is accepted for its run and gives the counts the clicks made.
    review_file = tmp_path / "review.json"
    review_file.write_text(json.dumps(doc), encoding="utf-8")
    section = review_summary(load_review(review_file, load_run(run_dir)))
    assert section["reviewed"]["cells_counted"] == 2 and section["reviewed"]["cells_impossible"] == 1
    assert section["reviewed"]["detections_yes"] == 2 and section["reviewed"]["detections_no"] == 1


@needs_chromium
def test_page_makes_no_network_request(review_page, tmp_path):
    _, page, _ = review_page
    # Control: without the page's CSP, a fetch and an image from the page do reach the proxy,
    # so the recorder would see a request the page made.
    probe = ('<script>fetch("http://debrismap-probe.example/f").catch(function () {});'
             'var i = new Image(); i.src = "http://debrismap-probe.example/i.png";</script>')
    control = RequestRecorder()
    run_page(page, tmp_path / "p1", [], control, strip_csp=True, extra=probe)
    assert any(b"debrismap-probe.example" in line for line in control.page_requests())

    recorder = RequestRecorder()
    steps = [["key", "y"], ["key", "2"], ["click", 0.4, 0.6], ["key", "d"], ["key", "h"]]
    dom = run_page(page, tmp_path / "p2", steps, recorder, extra=probe)  # the CSP blocks even these
    assert 'data-ready="ok"' in dom
    assert recorder.page_requests() == []

"""Headless-Chromium checks of a report page (helpers for the report tests; not a test file itself).

Method (pure chromium CLI, no selenium / DevTools client):

1. ``--screenshot`` of the page as shipped -> the PNG must have non-blank content;
2. a TEST copy of the page gets one inline script (its CSP widened to allow only that) which, on
   ``load``, writes into ``<body data-check=...>`` the number of images, of broken images
   (``!complete || naturalWidth == 0``), of ``<script>`` elements and of errors caught by
   ``window.onerror``; ``--dump-dom`` prints the DOM after load and the test parses that attribute;
3. chromium runs with ``--enable-logging=stderr --v=0`` so console messages (including CSP
   violations, i.e. attempted network requests) appear on stderr as ``CONSOLE`` lines.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHECK_SCRIPT = """<script>
window.__errs = [];
window.addEventListener('error', function (e) { window.__errs.push(String(e.message || e)); }, true);
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).length;
  document.body.setAttribute('data-check', JSON.stringify({images: imgs.length, broken: broken,
    scripts: document.scripts.length, errors: window.__errs}));
});
</script>"""


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise AssertionError("chromium not found: the report tests need Debian's chromium "
                             "(apt-get install chromium)")
    return exe


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def console_errors(stderr: str) -> list[str]:
    """Console messages of level error/warning printed by ``--enable-logging=stderr``."""
    lines = [ln for ln in stderr.splitlines() if "CONSOLE" in ln]
    return [ln for ln in lines if re.search(r"ERROR|Uncaught|Refused|Content Security Policy|Failed", ln)]


def screenshot(page: Path, png: Path, size: str = "1280,2000") -> subprocess.CompletedProcess:
    return _run([f"--screenshot={png}", f"--window-size={size}", page.resolve().as_uri()])


def dom_check(page: Path, workdir: Path) -> tuple[dict, str, str]:
    """(check dict, dumped DOM, stderr) for a test copy of ``page`` with :data:`CHECK_SCRIPT` inserted."""
    text = page.read_text(encoding="utf-8")
    text = text.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1)
    text = text.replace("</head>", CHECK_SCRIPT + "</head>", 1)
    copy = workdir / "report_check.html"
    copy.write_text(text, encoding="utf-8")
    proc = _run(["--dump-dom", "--virtual-time-budget=5000", copy.resolve().as_uri()])
    m = re.search(r'data-check="([^"]*)"', proc.stdout)
    if not m:
        raise AssertionError(f"the check script did not run; chromium stderr tail: {proc.stderr[-2000:]}")
    import html

    return json.loads(html.unescape(m.group(1))), proc.stdout, proc.stderr

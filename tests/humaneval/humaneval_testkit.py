"""Shared helpers of the humaneval tests: a task folder with tiny images, a live server in a thread."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image


def make_task(root: Path, n_items: int = 12, k: int = 2, per_rater: int | None = None, checks: int = 1,
              caption: str = "a dog runs") -> Path:
    img = root / "images"
    img.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(img / f"im{i}.png")
    (root / "secret.txt").write_text("TOP SECRET\n")
    items = [{"id": f"it{i}", "image": f"images/im{i % 3}.png", "caption": f"{caption} {i}"} for i in range(n_items)]
    task = {"name": "test-task", "type": "caption", "k": k, "seed": 0, "media_dirs": ["images"], "items": items,
            "attention_checks": [{"id": f"chk{j}", "image": "images/im0.png", "caption": "attention: choose 1",
                                  "expected": 1} for j in range(checks)]}
    if per_rater:
        task["per_rater"] = per_rater
    path = root / "task.json"
    path.write_text(json.dumps(task))
    return path


def setup(root: Path, **kw):
    from vislang.humaneval.store import Store
    from vislang.humaneval.tasks import load_task

    task = load_task(make_task(root, **kw))
    store = Store(root / "ratings.sqlite")
    admin = store.load_items(task)
    return task, store, admin


@contextmanager
def live_server(task, store, log=False):
    from vislang.humaneval.app import make_server

    server = make_server(task, store, "127.0.0.1", 0, log=log)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=10)


def post_rating(port: int, token: str, item_id: str, value: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = urllib.parse.urlencode({"item_id": item_id, "value": value})
        conn.request("POST", f"/r/{token}/rate", body, {"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()

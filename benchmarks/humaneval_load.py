"""Load benchmark of the rating app: R concurrent raters x N ratings each against a local server.

    python benchmarks/humaneval_load.py [--raters 20] [--ratings 50]

Every rater is a thread posting its ratings with http.client on 127.0.0.1 (bounded loops, loopback
only).  Checks that all R x N ratings are stored exactly once with the submitted value, and prints
latency percentiles of the rating POST beside the anchor measured in the same run: a read-only
``GET /r/<token>/progress`` on the same server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path


def _request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t = time.perf_counter()
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    conn.request(method, path, body, headers)
    resp = conn.getresponse()
    resp.read()
    dt = time.perf_counter() - t
    conn.close()
    return resp.status, dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raters", type=int, default=20)
    ap.add_argument("--ratings", type=int, default=50)
    args = ap.parse_args(argv)

    import numpy as np

    from vislang.humaneval.app import make_server
    from vislang.humaneval.store import Store
    from vislang.humaneval.tasks import load_task

    tmp = Path(tempfile.mkdtemp(prefix="vislang-load-"))
    n_items = args.raters * args.ratings // 2 + 1
    items = [{"id": f"it{i}", "caption": f"caption {i}"} for i in range(n_items)]
    (tmp / "task.json").write_text(json.dumps({"name": "load", "type": "caption", "k": 2, "seed": 0,
                                               "per_rater": args.ratings, "items": items}))
    task = load_task(tmp / "task.json")
    store = Store(tmp / "ratings.sqlite")
    store.load_items(task)
    raters = [store.add_rater(f"r{i}") for i in range(args.raters)]
    server = make_server(task, store, "127.0.0.1", 0, log=False)
    port = server.server_port
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()

    post_lat, get_lat, errors, expected = [], [], [], {}
    lock = threading.Lock()
    barrier = threading.Barrier(args.raters)

    def rater(rid, token):
        try:
            barrier.wait(timeout=60)
            order = store.assignment(rid, task)
            for n, item in enumerate(order[:args.ratings]):
                value = 1 + (rid * 7 + n) % 4
                body = urllib.parse.urlencode({"item_id": item, "value": value})
                status, dt = _request(port, "POST", f"/r/{token}/rate", body)
                s2, dt2 = _request(port, "GET", f"/r/{token}/progress")
                if status != 303 or s2 != 200:
                    raise RuntimeError(f"HTTP {status}/{s2}")
                with lock:
                    post_lat.append(dt)
                    get_lat.append(dt2)
                    expected[(rid, item)] = value
        except BaseException as exc:  # noqa: BLE001
            errors.append(repr(exc))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=rater, args=r) for r in raters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - t0
    server.shutdown()
    server.server_close()

    rows = sqlite3.connect(tmp / "ratings.sqlite").execute("SELECT rater_id, item_id, value FROM ratings").fetchall()
    stored = {(r, i): v for r, i, v in rows}
    want = args.raters * args.ratings
    ok = not errors and len(rows) == want and stored == expected
    p = np.percentile(np.array(post_lat) * 1000, [50, 95, 99]) if post_lat else [float("nan")] * 3
    a = np.percentile(np.array(get_lat) * 1000, [50, 95, 99]) if get_lat else [float("nan")] * 3
    print(f"raters={args.raters} ratings/rater={args.ratings} stored={len(rows)}/{want} exactly-once={ok} "
          f"errors={len(errors)} wall={wall:.2f}s throughput={len(post_lat) / wall:.0f} POST/s")
    print(f"POST /rate latency ms: p50 {p[0]:.1f}  p95 {p[1]:.1f}  p99 {p[2]:.1f}")
    print(f"anchor GET /progress ms: p50 {a[0]:.1f}  p95 {a[1]:.1f}  p99 {a[2]:.1f}")
    print(f"ratio POST/GET p95: {p[1] / a[1]:.2f}")
    if errors:
        print("first error:", errors[0], file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

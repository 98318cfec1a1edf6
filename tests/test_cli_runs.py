"""The --out / --resume rules shared by the training commands (vislang.cli._runs.config_fields)."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from vislang.cli._runs import config_fields
from vislang.errors import ConfigError


@dataclasses.dataclass
class Cfg:
    out: str = "runs/x"
    data: str = "scenes"
    captions: str | None = None
    lr: float = 1e-3
    steps: int = 10
    seed: int = 0


def ns(**kw):
    base = dict(out=None, resume=None, data=None, captions=None, lr=None, steps=None, seed=None, verbose=True)
    base.update(kw)
    return argparse.Namespace(**base)


def test_new_run_keeps_given_fields_only():
    assert config_fields(ns(out="r", lr=0.5), Cfg, ("steps",)) == {"out": "r", "lr": 0.5}
    assert config_fields(ns(out="r"), Cfg, ("steps",), lr=2.0) == {"out": "r", "lr": 2.0}


def test_resume_in_place_with_or_without_the_same_out():
    assert config_fields(ns(resume="r", steps=20, seed=3), Cfg, ("steps",)) == {"steps": 20, "seed": 3, "out": "r"}
    assert config_fields(ns(resume="r", out="r"), Cfg, ("steps",)) == {"out": "r"}


@pytest.mark.parametrize("kw, message", [
    (dict(), "give --out RUN (a new run folder) or --resume RUN"),
    (dict(resume="r", out="s"), "--resume RUN continues RUN in place"),
    (dict(resume="r", lr=0.1, data="scenes"), "--resume: --data, --lr come from the run and cannot change; only --steps can"),
    (dict(out="r", data="imgs/"), "--data imgs/: an image source needs --captions FILE"),
])
def test_errors(kw, message):
    with pytest.raises(ConfigError) as err:
        config_fields(ns(**kw), Cfg, ("steps",))
    assert str(err.value).startswith(message)

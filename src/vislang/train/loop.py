"""The shared training-loop kit: run folders, exact-resume checkpoints, EMA, data order, DDP.

A training script reads top to bottom (as pytorch/examples' dcgan or nanoGPT's
train.py do) and uses these pieces:

* :class:`RunDir` -- the run folder: ``config.json``, ``log.jsonl`` (one record a
  step or evaluation), checkpoints ``ckpt-00001000.pt`` written atomically, the last
  ``keep`` kept.  A checkpoint holds everything to resume *exactly*: model and
  optimizer states, EMA, step, every RNG state and the config.
* :class:`StepSampler` -- the data order as a pure function of (seed, step): the
  batch of step ``s`` is the same whether the run went straight or was resumed, so
  the data order needs no state beyond the step.
* :class:`EMA` -- exponential moving average of a model's parameters and buffers.
* :func:`init_distributed` & co. -- ``torchrun`` set-up (gloo on CPU, nccl on GPU);
  one process behaves exactly like a plain run.

Exact resume contract: a run stopped at any point (even by SIGKILL) and resumed
from its last checkpoint at step ``s`` gives bitwise the same parameters at every
later step as the uninterrupted run, on CPU with deterministic settings.  The log
is truncated to ``s`` on resume, so it holds each step once.
"""

from __future__ import annotations

import atexit
import copy
import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Iterator

import torch

from vislang.errors import InputError
from vislang.fileio import JsonlLogger, atomic_write, read_json, write_json
from vislang.seeding import get_rng_state, set_rng_state

CKPT_RE = re.compile(r"^ckpt-(\d{8})\.pt$")


class RunDir:
    """A training run's folder.  ``RunDir(path).checkpoints()`` lists ``(step, path)`` oldest first."""

    def __init__(self, path: str | os.PathLike, keep: int = 3):
        self.path = Path(path)
        self.keep = max(1, int(keep))
        self.log = JsonlLogger(self.path / "log.jsonl")

    # -- config -------------------------------------------------------------------
    def save_config(self, config: Any) -> None:
        data = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
        write_json(self.path / "config.json", data)

    def load_config(self) -> dict[str, Any]:
        path = self.path / "config.json"
        if not path.exists():
            raise InputError(f"{self.path}: not a vislang run folder (no config.json); pass the --out folder of a training run")
        return read_json(path)

    # -- checkpoints --------------------------------------------------------------
    def checkpoints(self) -> list[tuple[int, Path]]:
        if not self.path.is_dir():
            return []
        found = []
        for p in self.path.iterdir():
            m = CKPT_RE.match(p.name)
            if m:
                found.append((int(m.group(1)), p))
        return sorted(found)

    def save(self, state: dict[str, Any], step: int) -> Path:
        """Write ``state`` (see :func:`capture`) atomically as ``ckpt-<step>.pt`` and prune old ones."""
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / f"ckpt-{step:08d}.pt"
        with atomic_write(target, "wb") as fh:
            torch.save(state, fh)
        for _, old in self.checkpoints()[:-self.keep]:
            old.unlink(missing_ok=True)
        return target

    def load_latest(self, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """The newest readable checkpoint, or ``None`` when the run has none."""
        for step, path in reversed(self.checkpoints()):
            try:
                return torch.load(path, map_location=map_location, weights_only=False)
            except Exception:  # a checkpoint damaged outside vislang: fall back to the one before
                continue
        return None

    def require_latest(self, map_location: str | torch.device = "cpu") -> dict[str, Any]:
        state = self.load_latest(map_location)
        if state is None:
            raise InputError(f"{self.path}: no checkpoint (ckpt-*.pt) found; train first or check the --run path")
        return state

    def start(self, resume: bool) -> dict[str, Any] | None:
        """The newest checkpoint when resuming; ``None`` for a new run, which never trains over an old one."""
        if resume:
            return self.require_latest()
        if self.checkpoints():
            raise InputError(f"{self.path}: already holds checkpoints; continue it with --resume {self.path} "
                             "or choose a new --out")
        return None


def resumed_config(cfg: Any, state: dict[str, Any], resumable: tuple[str, ...]) -> Any:
    """The config a resumed run continues with: the checkpoint's, except the ``resumable`` fields, taken
    from ``cfg`` (a dataclass of the same type; fields the checkpoint lacks get their defaults)."""
    saved = dict(state["config"])
    for k in resumable:
        saved[k] = getattr(cfg, k)
    names = {f.name for f in dataclasses.fields(cfg)}
    return type(cfg)(**{k: v for k, v in saved.items() if k in names})


def capture(step: int, config: Any, modules: dict[str, torch.nn.Module], optimizers: dict[str, Any] | None = None,
            **extra: Any) -> dict[str, Any]:
    """Everything needed to resume: module and optimizer states, step, config, RNG states, ``extra``.

    Wrapped modules (DDP) are unwrapped, so a checkpoint loads in one process or many.
    """
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    return {
        "step": int(step),
        "config": cfg,
        "modules": {k: unwrap(m).state_dict() for k, m in modules.items()},
        "optimizers": {k: o.state_dict() for k, o in (optimizers or {}).items()},
        "rng": get_rng_state(),
        "extra": extra,
        "torch_version": torch.__version__,
    }


def restore(state: dict[str, Any], modules: dict[str, torch.nn.Module], optimizers: dict[str, Any] | None = None,
            rng: bool = True) -> int:
    """Load a :func:`capture` dict into live objects; returns the step to continue from."""
    for k, m in modules.items():
        unwrap(m).load_state_dict(state["modules"][k])
    for k, o in (optimizers or {}).items():
        o.load_state_dict(state["optimizers"][k])
    if rng:
        set_rng_state(state["rng"])
    return int(state["step"])


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    return module.module if isinstance(module, torch.nn.parallel.DistributedDataParallel) else module


class EMA:
    """Exponential moving average of a module: ``avg = decay * avg + (1 - decay) * current``.

    Buffers (BatchNorm statistics) are copied, not averaged.  ``module`` is the averaged copy.
    """

    def __init__(self, model: torch.nn.Module, decay: float = 0.999):
        if not 0.0 < decay < 1.0:
            raise InputError(f"EMA decay must lie in (0, 1), got {decay}")
        self.decay = float(decay)
        self.module = copy.deepcopy(unwrap(model)).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        src = unwrap(model)
        for avg, cur in zip(self.module.parameters(), src.parameters()):
            avg.lerp_(cur.detach(), 1.0 - self.decay)
        for avg, cur in zip(self.module.buffers(), src.buffers()):
            avg.copy_(cur)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "module": self.module.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay = float(state["decay"])
        self.module.load_state_dict(state["module"])


class StepSampler:
    """Batches as a pure function of ``(seed, step)``: epoch ``e`` uses ``randperm(n)`` seeded by ``(seed, e)``.

    Each epoch has ``n // batch_size`` full batches (the remainder is dropped, as in the
    DCGAN recipe's shuffled loader with ``drop_last``).  Under DDP every rank takes a
    strided share of the same global batch, so the global batch equals the one-process one.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        if n < batch_size:
            raise InputError(f"the dataset has {n} items, fewer than the batch size {batch_size}; lower --batch-size")
        if batch_size % world_size:
            raise InputError(f"batch size {batch_size} is not divisible by the {world_size} processes")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.per_epoch = n // batch_size
        self._perm_epoch, self._perm = -1, None

    def epoch_of(self, step: int) -> int:
        return step // self.per_epoch

    def indices(self, step: int) -> torch.Tensor:
        epoch, pos = divmod(step, self.per_epoch)
        if epoch != self._perm_epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._perm_epoch = torch.randperm(self.n, generator=g), epoch
        batch = self._perm[pos * self.batch_size:(pos + 1) * self.batch_size]
        return batch[self.rank::self.world_size]

    def __call__(self, start: int, stop: int) -> Iterator[tuple[int, torch.Tensor]]:
        for step in range(start, stop):
            yield step, self.indices(step)


# -- distributed ---------------------------------------------------------------------

@dataclasses.dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str | None = None) -> Dist:
    """Set up ``torch.distributed`` when launched by ``torchrun`` (``WORLD_SIZE`` > 1), else one process.

    Backend: nccl when the device is CUDA, gloo otherwise.  ``device=None`` picks CUDA when present.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        # Tear the group down before the interpreter does: a process that exits with gloo's worker threads
        # still running aborts ("terminate called without an active exception") and fails the whole launch.
        atexit.register(shutdown_distributed)
    return Dist(rank=rank, world_size=world, local_rank=local, device=dev)


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over processes in place (a no-op in one process)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.SUM)
    return tensor


def barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def shutdown_distributed() -> None:
    """Destroy the process group, if there is one (no barrier: a crashed peer must not hang the exit)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def set_deterministic(threads: int | None = None) -> None:
    """Deterministic kernels (needed for bitwise exact resume) and, optionally, a fixed thread count."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    if threads:
        torch.set_num_threads(threads)

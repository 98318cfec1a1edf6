"""The metric protocol shared by every vislang metric, and result provenance.

A metric is a small object with mergeable state (as torchmetrics' ``Metric``):

* ``update(...)`` folds a batch into the state;
* ``merge(other)`` folds another instance's state into this one (shards on many
  processes merge exactly: states are sums, counts or exact lists, never running means);
* ``compute() -> dict[str, float]`` returns the numbers (plus per-item scores where they exist,
  under keys the metric documents);
* ``reset()`` empties the state.

States are plain tensors/arrays, float64 for sums of moments, so memory does not grow with the
number of samples unless the metric needs the samples (k-NN metrics, corpus text metrics).
"""

from __future__ import annotations

import abc
import copy
import sys
from typing import Any

from vislang import __version__


class Metric(abc.ABC):
    """Base class of the metric protocol; see the module docstring."""

    #: Short name used in result keys and provenance.
    name: str = "metric"

    @abc.abstractmethod
    def update(self, *args: Any, **kwargs: Any) -> None: ...

    @abc.abstractmethod
    def merge(self, other: "Metric") -> "Metric":
        """Fold ``other``'s state into ``self`` and return ``self``."""

    @abc.abstractmethod
    def compute(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def reset(self) -> None: ...

    def _check_mergeable(self, other: "Metric") -> None:
        if type(other) is not type(self):
            raise TypeError(f"cannot merge {type(other).__name__} into {type(self).__name__}")

    def copy(self) -> "Metric":
        return copy.deepcopy(self)


def all_reduce_metric(metric: Metric) -> Metric:
    """Merge the states of one metric object held by every ``torch.distributed`` process.

    Every process ends with the same merged state (rank order, so results are
    deterministic).  In a single process the metric is returned unchanged.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return metric
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, metric)
    merged = gathered[0].copy()
    for other in gathered[1:]:
        merged.merge(other)
    return merged


def provenance(**fields: Any) -> dict[str, Any]:
    """The recipe stamped on every result: vislang/Python/torch versions plus the given fields."""
    import platform  # here: 3 ms of import for every metric module otherwise

    info: dict[str, Any] = {"vislang_version": __version__, "python": platform.python_version()}
    torch = sys.modules.get("torch")  # already imported: free; else read the installed version without importing it
    if torch is not None:
        info["torch"] = torch.__version__
    else:
        import importlib.metadata  # here, not at the top: it costs ~45 ms of start-up for every metric import

        try:
            info["torch"] = importlib.metadata.version("torch")
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            pass
    info.update(fields)
    return info

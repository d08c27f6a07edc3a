"""Several training processes (`accelerate launch --num_processes N cw-desktop train ...`) or one.

A plain `cw-desktop train` is one process and gets `World()`, whose collectives are no-ops, so the
single-process path runs exactly the code it always ran. Under accelerate launch (or torchrun) the
launcher sets WORLD_SIZE/RANK; `join_world` then lets accelerate's PartialState open the process
group (gloo on CPUs, NCCL on GPUs) and returns a `DistributedWorld`.

The rule every caller follows: a decision that changes which collectives run next (stop now, save
a checkpoint now, the run folder's name) is made once for all processes (`any`, `on_main`), never
by each process on its own clock, or the processes wait for each other forever.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# What the launchers (accelerate launch, torchrun, mpirun) set in every process they start.
WORLD_SIZE_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
RANK_VARIABLES = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")


class WorldError(ValueError):
    """The main process failed a step the others wait on; the message is the main process's."""


def launched_processes() -> int:
    """How many training processes the launcher started (1 when run directly)."""
    for name in WORLD_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def launched_rank() -> int:
    """This process's index among them (0, the main process, when run directly); readable before
    the process group exists, e.g. by the CLI deciding who writes the log file."""
    if launched_processes() <= 1:
        return 0
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


class World:
    """One process: it is the main process, and every collective returns its own input."""

    index = 0
    count = 1

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def any(self, flag: bool) -> bool:
        """True on every process when `flag` is true on at least one of them."""
        return flag

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sums of `values` over all processes (float64, so token counts stay exact)."""
        return [float(v) for v in values]

    def mean(self, value: float) -> float:
        return self.sum([value])[0] / self.count

    def gather(self, value: T) -> list[T]:
        """Every process's `value`, in process order (picklable plain data only)."""
        return [value]

    def on_main(self, action: Callable[[], T]) -> T:
        """Run `action` on the main process only and hand its result to all; when it raises, the
        other processes raise WorldError with the same message instead of waiting forever."""
        return action()

    def barrier(self) -> None:
        """Wait until every process got here."""

    def close(self) -> None:
        """Leave the process group (a no-op for one process)."""


class DistributedWorld(World):
    """Several processes joined by torch.distributed (the group accelerate's PartialState opened)."""

    def __init__(self, index: int, count: int, device: Any) -> None:
        self.index = index
        self.count = count
        self.device = device  # where collective tensors live: NCCL only reduces CUDA tensors

    def any(self, flag: bool) -> bool:
        return self.sum([1.0 if flag else 0.0])[0] > 0

    def sum(self, values: Sequence[float]) -> list[float]:
        import torch
        import torch.distributed as dist

        tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return [float(v) for v in tensor.cpu().tolist()]

    def gather(self, value: T) -> list[T]:
        import torch.distributed as dist

        values: list[Any] = [None] * self.count
        dist.all_gather_object(values, value)
        return values

    def on_main(self, action: Callable[[], T]) -> T:
        import torch.distributed as dist

        outcome: list[Any] = [None]
        error: BaseException | None = None
        if self.is_main:
            try:
                outcome = [("ok", action())]
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others heard of it
                error = exc
                outcome = [("error", str(exc))]
        dist.broadcast_object_list(outcome, src=0)
        if error is not None:
            raise error
        kind, value = outcome[0]
        if kind == "error":
            raise WorldError(value)
        return value

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def join_world(cpu: bool) -> World:
    """This process's world: `World()` unless a launcher started several processes."""
    if launched_processes() <= 1:
        return World()
    from accelerate import PartialState

    state = PartialState(cpu=cpu)
    if state.num_processes <= 1:
        return World()
    return DistributedWorld(state.process_index, state.num_processes, state.device)

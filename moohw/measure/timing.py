"""Timing a torch model under a :class:`~moohw.measure.protocol.Protocol`.

On CPU each forward pass is timed with :func:`time.perf_counter`; on CUDA with events recorded on
the stream around the pass and read after a synchronisation, so the time is the GPU's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch

from moohw.errors import InputError
from moohw.measure.protocol import MeasureError, Measurement, Protocol, summarize


def cuda_available() -> bool:
    """Whether torch sees a CUDA device."""
    return bool(torch.cuda.is_available())


def _prepare(
    model: torch.nn.Module, input_shape: Sequence[int], protocol: Protocol
) -> tuple[torch.nn.Module, torch.Tensor]:
    if protocol.device == "cuda" and not cuda_available():
        raise MeasureError("protocol device is 'cuda' but torch sees no CUDA device here")
    dev = torch.device(protocol.device)
    dtype = getattr(torch, protocol.dtype)
    gen = torch.Generator().manual_seed(0)  # input values do not matter; keep them fixed
    x = torch.randn((protocol.batch_size, *input_shape), generator=gen).to(dev, dtype)
    model = model.to(dev, dtype).eval()
    if protocol.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        x = x.contiguous(memory_format=torch.channels_last)
    return model, x


def measure_model(
    model: torch.nn.Module,
    protocol: Protocol,
    input_shape: Sequence[int] = (3, 32, 32),
    clock: Callable[[], float] | None = None,
) -> Measurement:
    """Measure the forward latency of ``model`` following ``protocol``.

    The model is moved to the protocol's device, dtype and memory format and put in eval mode
    (it is modified in place, as ``Module.to`` does).

    Args:
        model: The network.
        protocol: How to measure.
        input_shape: ``(C, H, W)`` of one input; the batch is ``(batch_size, C, H, W)``.
        clock: Seconds clock for CPU timing (default: the protocol's ``timer``; injectable for
            tests).

    Returns:
        The measurement (latency per forward pass of one batch, ms): of up to
        ``protocol.attempts`` series of repeats, the first with CV <= ``protocol.max_cv``, else
        the one with the lowest CV.

    Raises:
        MeasureError: if the protocol asks for CUDA and there is none.
    """
    if clock is None:
        clock = time.thread_time if protocol.clock == "thread" else time.perf_counter
    model, x = _prepare(model, input_shape, protocol)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(protocol.threads)
    try:
        with torch.inference_mode():
            for _ in range(protocol.warmup):
                model(x)
            best: Measurement | None = None
            n_attempts = 0
            while n_attempts < protocol.attempts:
                n_attempts += 1
                if protocol.device == "cuda":
                    samples = _time_cuda(model, x, protocol.repeats)
                else:
                    samples = _time_cpu(model, x, protocol.repeats, clock)
                m = summarize(samples, protocol)
                if best is None or m.cv < best.cv:
                    best = m
                if m.cv <= protocol.max_cv:
                    break
    finally:
        torch.set_num_threads(old_threads)
    assert best is not None
    return replace(best, n_attempts=n_attempts)


def _time_cpu(
    model: torch.nn.Module, x: torch.Tensor, repeats: int, clock: Callable[[], float]
) -> np.ndarray:
    out = np.empty(repeats)
    for i in range(repeats):
        t0 = clock()
        model(x)
        out[i] = (clock() - t0) * 1e3
    return out


def _time_cuda(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> np.ndarray:
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    for s, e in zip(starts, ends, strict=True):
        torch.cuda.synchronize()  # each pass starts on an idle GPU: latency, not throughput
        s.record()
        model(x)
        e.record()
    torch.cuda.synchronize()
    return np.array([s.elapsed_time(e) for s, e in zip(starts, ends, strict=True)])  # already ms


_CLOCKS: dict[str, Callable[[], float]] = {
    "thread": time.thread_time,
    "process": time.process_time,
    "wall": time.perf_counter,
}


def time_visit(runner: Runner, warmup: int, repeats: int) -> np.ndarray:
    """Run ``warmup`` untimed passes then time ``repeats`` passes of ``runner``, ms each.

    Args:
        runner: The prepared model (its ``clock`` picks the timer).
        warmup: Untimed passes first.
        repeats: Timed passes.

    Returns:
        ``(repeats,)`` per-pass times in ms.
    """
    for _ in range(warmup):
        runner.run()
    if runner.clock == "cuda":
        return _time_cuda_fn(runner.run, repeats)
    clock = _CLOCKS[runner.clock]
    out = np.empty(repeats)
    run = runner.run
    for i in range(repeats):
        t0 = clock()
        run()
        out[i] = (clock() - t0) * 1e3
    return out


def measure_runner(runner: Runner, protocol: Protocol) -> Measurement:
    """The single-series protocol (``rounds=1``) on a prepared runner.

    ``protocol.warmup`` passes, then up to ``protocol.attempts`` series of ``protocol.repeats``
    passes: the first with CV <= ``max_cv`` is kept, else the most stable one.
    """
    best: Measurement | None = None
    n_attempts = 0
    warm = protocol.warmup
    while n_attempts < protocol.attempts:
        n_attempts += 1
        m = summarize(time_visit(runner, warm, protocol.repeats), protocol)
        warm = 0
        if best is None or m.cv < best.cv:
            best = m
        if m.cv <= protocol.max_cv:
            break
    assert best is not None
    return replace(best, n_attempts=n_attempts)


def _time_cuda_fn(run: Callable[[], object], repeats: int) -> np.ndarray:
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    for s, e in zip(starts, ends, strict=True):
        torch.cuda.synchronize()  # each pass starts on an idle GPU: latency, not throughput
        s.record()
        run()
        e.record()
    torch.cuda.synchronize()
    return np.array([s.elapsed_time(e) for s, e in zip(starts, ends, strict=True)])


class Runner:
    """One prepared model: ``run()`` does one forward pass; ``clock`` says how to time it.

    Attributes:
        run: One forward pass of one batch (its result is discarded).
        clock: ``thread`` (CPU time of the calling thread: the pass runs on it, one thread),
            ``process`` (CPU time of the whole process: a one-thread runtime that may compute
            on a worker thread of its own),
            ``wall`` (elapsed time) or ``cuda`` (CUDA events after a synchronisation).
        keep: Objects that must stay alive while ``run`` is used (sessions, graphs).
    """

    __slots__ = ("clock", "keep", "run")

    def __init__(self, run: Callable[[], object], clock: str, keep: object = None) -> None:
        if clock not in ("thread", "process", "wall", "cuda"):
            raise InputError(f"runner clock must be thread, process, wall or cuda, got {clock!r}")
        self.run = run
        self.clock = clock
        self.keep = keep


def torch_runner(
    model: torch.nn.Module,
    protocol: Protocol,
    input_shape: Sequence[int] = (3, 32, 32),
    cuda_graph: bool = False,
) -> Runner:
    """A runner of a torch module (eager, or TorchScript) under ``protocol``.

    The model is moved to the protocol's device, dtype and memory format and put in eval mode.
    With ``cuda_graph`` (CUDA only) the forward pass is captured once in a CUDA graph and each
    pass replays it (no per-kernel launch cost).

    Raises:
        MeasureError: CUDA asked for and absent, or ``cuda_graph`` on the CPU.
    """
    model, x = _prepare(model, input_shape, protocol)
    if cuda_graph:
        if protocol.device != "cuda":
            raise MeasureError("cuda_graph=1 needs local:cuda")
        with torch.inference_mode():
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm up off the capture stream, as torch requires
                for _ in range(3):
                    model(x)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                out = model(x)
        return Runner(graph.replay, "cuda", keep=(model, x, out, graph))

    def run() -> object:
        with torch.inference_mode():
            return model(x)

    return Runner(run, protocol.clock, keep=(model, x))

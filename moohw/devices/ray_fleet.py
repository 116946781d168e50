"""A fleet of measuring devices on a Ray cluster: ``ray:NAME`` (optional extra ``.[ray]``).

Each physical device is one Ray actor, created with ``resources={NAME: 1}`` so Ray places it on
the host that advertises the custom resource ``NAME`` (``ray start --resources='{"NAME": 1}'``,
see ``docs/fleet.md``) and never runs two of them at once on it. The actor builds its local
device once and keeps it warm (torch loaded, threads pinned); it measures one model at a time.
The driver consults and writes the measurement store, so when an actor dies the device recreates
it and re-measures only what was not stored.

Name syntax: ``ray:NAME[?target=cpu|cuda&address=HOST:PORT&<local options>]`` where the local
options are those of ``local:`` devices (``batch``, ``threads``, ``dtype``, ...): the actor
measures ``local:<target>?<options>`` on its host. Without ``address`` the driver joins the
running cluster (``RAY_ADDRESS`` or ``auto``) unless Ray is already initialised.
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np

from moohw.devices.local import LiveDevice, LocalDevice, local_name, parse_live_options
from moohw.errors import InputError
from moohw.measure.fingerprint import hardware_info, hostname
from moohw.measure.protocol import MeasureError, Measurement, Protocol
from moohw.measure.store import MeasurementStore
from moohw.spaces import SearchSpace, get_space

_STANDARD_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")


class FleetError(MeasureError):
    """The Ray fleet cannot serve a device (Ray missing, no cluster, no such resource)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise FleetError('ray:NAME devices need Ray: pip install -e ".[ray]"') from None
    return ray


def connect(address: str | None = None) -> None:
    """Join a Ray cluster unless this process already did.

    Args:
        address: ``HOST:PORT`` of the head; ``None`` uses ``RAY_ADDRESS`` or ``auto``.

    Raises:
        FleetError: if Ray is missing or no cluster answers.
    """
    ray = _ray()
    if ray.is_initialized():
        return
    addr = address or os.environ.get("RAY_ADDRESS") or "auto"
    hint = "start one with ray start --head --resources='{\"NAME\": 1}' (see docs/fleet.md)"
    host, sep, port = addr.rpartition(":")
    if sep and host and port.isdigit() and "://" not in addr:
        # Ray retries an unreachable head for minutes; fail in seconds instead
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as e:
            raise FleetError(f"no Ray cluster at {addr} ({e}); {hint}") from None
    try:
        ray.init(address=addr, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise FleetError(f"no Ray cluster at {addr} ({str(e).splitlines()[0]}); {hint}") from None


def custom_resources() -> dict[str, float]:
    """Custom resources the connected cluster advertises (device names), with their totals."""
    res = _ray().cluster_resources()
    return {
        k: float(v)
        for k, v in res.items()
        if k not in _STANDARD_RESOURCES and not k.startswith(("node:", "accelerator_type:"))
    }


class MeasurerActor:
    """Runs on the device's host: a warm local device that measures one model at a time.

    Args:
        local_arg: ``cpu?threads=1&...`` (a ``local:`` name without the prefix).
        space: Space name (``nb201``).
    """

    def __init__(self, local_arg: str, space: str) -> None:
        target, protocol, dataset = parse_live_options(local_arg, "local")
        protocol = replace(protocol, device=target)
        self.device = LocalDevice(get_space(space), protocol, dataset, store=None)

    def identity(self) -> dict[str, Any]:
        """Hardware facts of this host (for the fingerprint) and its host name."""
        return {"hardware": hardware_info(self.device.protocol.device), "host": hostname()}

    def measure(self, arch: list[int]) -> tuple[Measurement, str]:
        """Measure one architecture (a list of op ids); returns the measurement and host."""
        return self.device._measure(np.asarray(arch, dtype=np.int64))

    def measure_batch(self, archs: list[list[int]]) -> list[tuple[Measurement, str]]:
        """Measure several architectures with the drift-robust schedule (one batch)."""
        return self.device._measure_batch(np.asarray(archs, dtype=np.int64))


@lru_cache(maxsize=1)
def _actor_class() -> Any:
    return _ray().remote(MeasurerActor)


class RayDevice(LiveDevice):
    """A live device served by one Ray actor placed on the host advertising ``resource``.

    Args:
        resource: The custom resource naming the physical device (``pixel3``).
        space: The NB201 space.
        protocol: Measurement protocol (its ``device`` is the actor's target, cpu or cuda).
        dataset: Network variant.
        store: Measurement store on the driver (``None``: nothing persists).
        address: Ray head address (``None``: ``RAY_ADDRESS``, ``auto`` or the current session).
        max_retries: How many times a dead or hung actor is recreated for one measurement.
        timeout_s: Seconds to wait for the actor to start or for one measurement.
        name: Device name (default ``ray:<resource>`` plus options).
    """

    def __init__(
        self,
        resource: str,
        space: SearchSpace,
        protocol: Protocol | None = None,
        dataset: str = "cifar10",
        store: MeasurementStore | None = None,
        address: str | None = None,
        max_retries: int = 3,
        timeout_s: float = 600.0,
        name: str | None = None,
    ) -> None:
        if not resource:
            raise InputError("ray device needs a resource name: ray:NAME")
        protocol = protocol or Protocol()
        super().__init__(name or f"ray:{resource}", space, protocol, dataset, store=store)
        self.resource = resource
        self.address = address
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.n_restarts = 0
        self._actor: Any = None
        self._hw: dict[str, Any] | None = None
        self.host: str | None = None
        self.cost_s = 1.0

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_actor"] = None  # actor handles belong to the driver that created them
        return state

    def _local_arg(self) -> str:
        return local_name(self.protocol, self.dataset).removeprefix("local:")

    def actor(self) -> Any:
        """The live actor, created (and placed) on first use or after it died.

        Raises:
            FleetError: no cluster, no host advertising the resource, or the actor did not start.
        """
        if self._actor is not None:
            return self._actor
        ray = _ray()
        connect(self.address)
        have = custom_resources()
        if have.get(self.resource, 0) < 1:
            known = ", ".join(sorted(have)) or "none"
            raise FleetError(
                f"no host in the Ray cluster advertises resource {self.resource!r} "
                f"(custom resources: {known}); start it with "
                f"ray start --resources='{{\"{self.resource}\": 1}}'"
            )
        cpus = self.protocol.threads if self.protocol.device == "cpu" else 1
        gpus = 1 if self.protocol.device == "cuda" else 0
        actor = (
            _actor_class()
            .options(resources={self.resource: 1}, num_cpus=cpus, num_gpus=gpus, max_restarts=0)
            .remote(self._local_arg(), self.space.name)
        )
        try:
            ident = ray.get(actor.identity.remote(), timeout=self.timeout_s)
        except ray.exceptions.GetTimeoutError:
            ray.kill(actor)
            raise FleetError(
                f"the actor for {self.resource!r} did not start within {self.timeout_s:.0f} s "
                f"(is another ray:{self.resource} device holding it?)"
            ) from None
        except ray.exceptions.RayError as e:
            raise FleetError(f"the actor for {self.resource!r} failed to start: {e}") from None
        if self._hw is not None and ident["hardware"] != self._hw:
            ray.kill(actor)
            raise FleetError(
                f"the recreated actor for {self.resource!r} runs on different hardware "
                f"({ident['hardware']} vs {self._hw}); refusing to mix fingerprints"
            )
        self._hw, self.host, self._actor = ident["hardware"], ident["host"], actor
        return actor

    def _identity(self) -> dict[str, Any]:
        self.actor()
        assert self._hw is not None
        return self._hw

    def _measure(self, arch: np.ndarray) -> tuple[Measurement, str]:
        m, host = self._call("measure", arch.tolist(), self.timeout_s, arch)
        return m, str(host)

    def _measure_batch(self, X: np.ndarray) -> list[tuple[Measurement, str]]:
        """The whole batch in the actor (drift-robust schedule on the device's host)."""
        if not self.protocol.robust:
            return super()._measure_batch(X)
        out = self._call("measure_batch", X.tolist(), self.timeout_s * len(X), X[0])
        return [(m, str(h)) for m, h in out]

    def _call(self, method: str, arg: Any, timeout_s: float, arch: np.ndarray) -> Any:
        """``actor.method(arg)`` with retries on a fresh actor when one dies or hangs."""
        ray = _ray()
        last: Exception | None = None
        for _ in range(self.max_retries + 1):
            actor = self.actor()
            try:
                return ray.get(getattr(actor, method).remote(arg), timeout=timeout_s)
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as e:
                # died or hung: drop it; the next attempt places a fresh actor
                last = e
                ray.kill(actor, no_restart=True)
                self._actor = None
                self.n_restarts += 1
        raise FleetError(
            f"ray:{self.resource} failed {self.max_retries + 1} times measuring "
            f"{self.space.to_str(arch)[0]}: {type(last).__name__}"
        )

    def shutdown(self) -> None:
        """Kill the actor (frees the device resource for other drivers)."""
        if self._actor is not None:
            _ray().kill(self._actor, no_restart=True)
            self._actor = None


def ray_device(arg: str, space: SearchSpace, store: MeasurementStore | None = None) -> RayDevice:
    """Build ``ray:<arg>`` (see the module docstring for the syntax).

    Args:
        arg: The name without ``ray:``.
        space: Must be NB201.
        store: Measurement store; ``None`` opens the default one on first use.

    Raises:
        ValueError: bad name or options. Ray itself is contacted on first measurement.
    """
    resource, _, query = arg.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    target = next((v for k, v in pairs if k == "target"), "cpu")
    address = next((v for k, v in pairs if k == "address"), None)
    if target not in ("cpu", "cuda"):
        raise InputError(f"ray:{arg}: target must be cpu or cuda, got {target!r}")
    rest = urlencode([(k, v) for k, v in pairs if k not in ("target", "address")])
    _, protocol, dataset = parse_live_options(f"{target}?{rest}" if rest else target, "ray")
    protocol = replace(protocol, device=target)
    return RayDevice(
        resource,
        space,
        protocol,
        dataset,
        store if store is not None else MeasurementStore(),
        address=address,
        name=f"ray:{arg}",
    )

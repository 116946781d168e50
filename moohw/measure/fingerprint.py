"""Device fingerprints: what a stored measurement is valid for.

A fingerprint hashes the hardware (CPU model and core count, GPU name and compute capability),
the software that shapes latency (torch version and its CPU capability, CUDA/cuDNN versions) and
the measurement protocol. Two measurements with the same fingerprint are interchangeable; change
any of these and the store treats the device as new.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
from functools import lru_cache
from typing import Any

from moohw.measure.protocol import MeasureError, Protocol

#: Bump when the network builder changes in a way that changes latency.
NETWORK_VERSION = "nb201-tinynetwork-1"


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo``, else :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def hardware_info(device: str = "cpu") -> dict[str, Any]:
    """Hardware and software facts that shape latency on this machine.

    Args:
        device: ``cpu`` or ``cuda`` (CUDA adds the GPU name, capability and CUDA versions).

    Raises:
        MeasureError: for ``cuda`` when torch sees no CUDA device.
    """
    import torch

    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count() or 0,
        "machine": platform.machine(),
        "system": platform.system(),
        "torch": torch.__version__,
        "torch_cpu_capability": _cpu_capability(),
        "network": NETWORK_VERSION,
    }
    if device == "cuda":
        if not torch.cuda.is_available():
            raise MeasureError("local:cuda needs a CUDA device; torch sees none here")
        idx = torch.cuda.current_device()
        info["gpu"] = torch.cuda.get_device_name(idx)
        info["gpu_capability"] = ".".join(map(str, torch.cuda.get_device_capability(idx)))
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def _cpu_capability() -> str:
    import torch

    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):  # older torch
        return "unknown"


def fingerprint(hardware: dict[str, Any], protocol: Protocol, extra: dict[str, Any]) -> str:
    """Stable 16-hex-digit hash of hardware facts, protocol fields and extra settings.

    Args:
        hardware: From :func:`hardware_info` (possibly on a remote host).
        protocol: The measurement protocol.
        extra: Other settings that change the measured model (e.g. ``{"dataset": "cifar10"}``).
    """
    blob = json.dumps(
        {"hardware": hardware, "protocol": protocol.to_dict(), "extra": extra},
        sort_keys=True,
        default=str,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def hostname() -> str:
    """This host's name (recorded with each measurement)."""
    return socket.gethostname()

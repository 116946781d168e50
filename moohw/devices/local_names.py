"""Names of live devices: ``local:TARGET?key=value&...`` parsed into a protocol and options.

See :mod:`moohw.devices.local` for the syntax.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from moohw.errors import InputError
from moohw.measure.protocol import Protocol
from moohw.measure.runtimes import DEFAULTS, TARGETS

_DATASETS = ("cifar10", "cifar100", "imagenet16")
_OPTION_FIELDS = {
    "batch": "batch_size",
    "threads": "threads",
    "dtype": "dtype",
    "channels_last": "channels_last",
    "warmup": "warmup",
    "repeats": "repeats",
    "outlier_k": "outlier_k",
    "max_cv": "max_cv",
    "attempts": "attempts",
    "timer": "timer",
    "rounds": "rounds",
    "min_rounds": "min_rounds",
    "round_repeats": "round_repeats",
    "ref_every": "ref_every",
    "rank_rho": "rank_rho",
    "batch_cells": "batch_cells",
}
LIVE_OPTIONS: tuple[str, ...] = (*_OPTION_FIELDS, "dataset")


def parse_live_options(arg: str, kind: str = "local") -> tuple[str, Protocol, str]:
    """Parse ``cpu?threads=2&batch=8`` into ``(target, protocol, dataset)``.

    Args:
        arg: The part of the name after ``kind:``.
        kind: Name kind for messages.

    Raises:
        ValueError: on an unknown key, a bad value or a repeated key (naming the valid ones).
    """
    target, _, query = arg.partition("?")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise InputError(
            f"bad options {query!r} in {kind}:{arg}; expected key=value&... with keys "
            + ", ".join(LIVE_OPTIONS)
        ) from None
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise InputError(f"repeated option in {kind}:{arg}")
    types = {f.name: f.type for f in fields(Protocol)}
    kwargs: dict[str, Any] = {}
    dataset = "cifar10"
    for k, v in pairs:
        if k == "dataset":
            dataset = v
            continue
        if k not in _OPTION_FIELDS:
            raise InputError(
                f"unknown option {k!r} in {kind}:{arg}; known: {', '.join(LIVE_OPTIONS)}"
            )
        fname = _OPTION_FIELDS[k]
        try:
            if types[fname] in ("int", int):
                kwargs[fname] = int(v)
            elif types[fname] in ("float", float):
                kwargs[fname] = float(v)
            elif types[fname] in ("bool", bool):
                if v.lower() not in ("0", "1", "true", "false"):
                    raise InputError(v)
                kwargs[fname] = v.lower() in ("1", "true")
            else:
                kwargs[fname] = v
        except ValueError:
            raise InputError(
                f"option {k}={v!r} in {kind}:{arg} needs a {types[fname]} value"
            ) from None
    if dataset not in _DATASETS:
        raise InputError(
            f"unknown dataset {dataset!r} in {kind}:{arg}; known: {', '.join(_DATASETS)}"
        )
    return target, Protocol(**kwargs), dataset


def parse_local_name(arg: str) -> tuple[str, Protocol, str, dict[str, str]]:
    """Parse ``onnxruntime?threads=1&opt=basic`` into ``(target, protocol, dataset, options)``.

    Runtime options (those of :data:`moohw.measure.runtimes.TARGETS` for the target) are split
    from protocol options; the protocol's ``device`` is ``cuda`` for ``cuda`` (and
    ``onnxruntime?ep=cuda``), else ``cpu``.

    Raises:
        ValueError: an unknown target, option or value (naming what is valid).
    """
    target, _, query = arg.partition("?")
    if target not in TARGETS:
        raise InputError(f"unknown local device {target!r}; known: {', '.join(TARGETS)}")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        pairs = []  # parse_live_options reports the malformed query below
        rest = query
    else:
        runtime_keys = TARGETS[target]
        options = {k: v for k, v in pairs if k in runtime_keys}
        rest = urlencode([(k, v) for k, v in pairs if k not in runtime_keys])
    _, protocol, dataset = parse_live_options(f"{target}?{rest}" if rest else target, "local")
    if not pairs:
        options = {}
    for k, v in options.items():
        if v not in TARGETS[target][k]:
            raise InputError(
                f"option {k}={v!r} of local:{target} must be one of {TARGETS[target][k]}"
            )
    gpu = target == "cuda" or options.get("ep") == "cuda"
    return target, replace(protocol, device="cuda" if gpu else "cpu"), dataset, options


def local_name(
    protocol: Protocol,
    dataset: str = "cifar10",
    target: str | None = None,
    options: Mapping[str, str] | None = None,
) -> str:
    """Canonical ``local:...`` name: the target plus every option that differs from default."""
    default = replace(Protocol(), device=protocol.device)
    opts = [
        f"{k}={_fmt(getattr(protocol, f))}"
        for k, f in _OPTION_FIELDS.items()
        if getattr(protocol, f) != getattr(default, f)
    ]
    opts += [f"{k}={v}" for k, v in sorted((options or {}).items()) if DEFAULTS.get(k) != v]
    if dataset != "cifar10":
        opts.append(f"dataset={dataset}")
    return f"local:{target or protocol.device}" + ("?" + "&".join(opts) if opts else "")


def _fmt(v: object) -> str:
    return str(int(v)) if isinstance(v, bool) else str(v)

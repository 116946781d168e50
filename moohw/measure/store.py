"""The persistent measurement store: SQLite in WAL mode, one row per measured architecture.

Rows are keyed by ``(fingerprint, space, arch_str, protocol_hash)`` and each is committed on its
own as soon as it is measured (``synchronous=FULL``), so a run killed at any moment loses at most
the measurement in flight, and a re-run measures nothing twice. Several processes may write at
once: WAL lets readers run beside the single writer, every write is one short transaction, and a
busy timeout makes a writer wait for the lock instead of failing. A row, once written, is never
overwritten (the first measurement of a key wins).

Claims keep workers that share a store from measuring the same architecture twice: before
measuring, a worker claims the keys it will measure (a lease with an expiry time, taken in one
``BEGIN IMMEDIATE`` transaction, so two workers never hold the same key); others skip claimed
keys and wait for their rows. A live worker renews its leases; a killed one stops renewing, its
claims expire after ``lease_s`` and the keys are claimed again by whoever is still working.
Storing a measurement releases its claim in the same transaction.

The file is ``$MOOHW_STORE`` if set, else ``measurements.sqlite`` under the user cache directory
(:func:`platformdirs.user_cache_dir`), unless a path is given explicitly.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import platformdirs

from moohw.errors import InputError
from moohw.measure.protocol import MeasureError, Measurement, Protocol

_SCHEMA_VERSION = 1
_COLUMNS = (
    "latency_ms",
    "spread_ms",
    "iqr_ms",
    "mean_ms",
    "min_ms",
    "cv",
    "n_kept",
    "n_rejected",
    "n_attempts",
)
_PLACEHOLDERS = ", ".join("?" * (len(_COLUMNS) + 7))  # + key (4), device, host, measured_at
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS measurements (
    fingerprint TEXT NOT NULL,
    space TEXT NOT NULL,
    arch_str TEXT NOT NULL,
    protocol_hash TEXT NOT NULL,
    device TEXT NOT NULL,
    {", ".join(f"{c} {'INTEGER' if c.startswith('n_') else 'REAL'} NOT NULL" for c in _COLUMNS)},
    host TEXT NOT NULL,
    measured_at TEXT NOT NULL,
    PRIMARY KEY (fingerprint, space, arch_str, protocol_hash)
);
CREATE TABLE IF NOT EXISTS fingerprints (
    fingerprint TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    hardware TEXT NOT NULL,
    protocol TEXT NOT NULL,
    extra TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS references_pinned (
    fingerprint TEXT NOT NULL,
    protocol_hash TEXT NOT NULL,
    arch_str TEXT NOT NULL,
    reference_ms REAL NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (fingerprint, protocol_hash)
);
CREATE TABLE IF NOT EXISTS claims (
    fingerprint TEXT NOT NULL,
    space TEXT NOT NULL,
    arch_str TEXT NOT NULL,
    protocol_hash TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (fingerprint, space, arch_str, protocol_hash)
);
"""


class StoreError(MeasureError):
    """The store cannot be opened, read or written (the message names the file)."""


def default_store_path() -> Path:
    """``$MOOHW_STORE`` if set, else ``<user cache dir>/moohw/measurements.sqlite``."""
    env = os.environ.get("MOOHW_STORE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("moohw")) / "measurements.sqlite"


@dataclass(frozen=True)
class StoreSummary:
    """One row of ``moohw store ls``: what is stored for one fingerprint and space."""

    fingerprint: str
    device: str
    space: str
    count: int
    last_measured_at: str


def _measurement(row: tuple[Any, ...], protocol: Protocol) -> Measurement:
    vals = dict(zip(_COLUMNS, row, strict=True))
    return Measurement(
        latency_ms=float(vals["latency_ms"]),
        spread_ms=float(vals["spread_ms"]),
        iqr_ms=float(vals["iqr_ms"]),
        mean_ms=float(vals["mean_ms"]),
        min_ms=float(vals["min_ms"]),
        cv=float(vals["cv"]),
        n_kept=int(vals["n_kept"]),
        n_rejected=int(vals["n_rejected"]),
        n_attempts=int(vals["n_attempts"]),
        protocol=protocol,
    )


def new_owner() -> str:
    """A unique claim owner id for this worker: ``host:pid:random``."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class MeasurementStore:
    """A SQLite measurement store, safe to share between processes.

    The connection opens on first use (one per process and thread), so a store is cheap to
    create and can be pickled into worker processes.

    Args:
        path: The database file; ``None`` uses :func:`default_store_path`.
        timeout_s: How long a writer waits for a lock held by another process.
    """

    def __init__(self, path: str | Path | None = None, timeout_s: float = 60.0) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.timeout_s = timeout_s
        self._local = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self.timeout_s = state["timeout_s"]
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"MeasurementStore({str(self.path)!r})"

    def _fail(self, what: str, e: Exception) -> StoreError:
        return StoreError(f"cannot {what} measurement store {self.path}: {e}")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        if self.path.is_dir():
            raise StoreError(f"measurement store {self.path} is a directory, not a file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"journal mode is {mode}, WAL unavailable")
            conn.execute("PRAGMA synchronous = FULL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"schema version {version} is newer than this moohw ({_SCHEMA_VERSION})"
                )
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as e:
            raise self._fail("open", e) from None
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def journal_mode(self) -> str:
        """The SQLite journal mode in use (``wal``)."""
        return str(self._conn().execute("PRAGMA journal_mode").fetchone()[0]).lower()

    def close(self) -> None:
        """Close this thread's connection (it reopens on next use)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    def register(
        self,
        fingerprint: str,
        device: str,
        hardware: dict[str, Any],
        protocol: Protocol,
        extra: dict[str, Any],
    ) -> None:
        """Record what a fingerprint stands for (first registration wins)."""
        try:
            self._conn().execute(
                "INSERT OR IGNORE INTO fingerprints VALUES (?, ?, ?, ?, ?, ?)",
                (
                    fingerprint,
                    device,
                    json.dumps(hardware, sort_keys=True, default=str),
                    json.dumps(protocol.to_dict(), sort_keys=True),
                    json.dumps(extra, sort_keys=True, default=str),
                    _now(),
                ),
            )
        except sqlite3.Error as e:
            raise self._fail("write", e) from None

    def get(
        self, fingerprint: str, space: str, protocol: Protocol, arch_strs: list[str] | None = None
    ) -> dict[str, Measurement]:
        """Stored measurements by arch string (only those of ``arch_strs`` when given)."""
        q = (
            f"SELECT arch_str, {', '.join(_COLUMNS)} FROM measurements "
            "WHERE fingerprint = ? AND space = ? AND protocol_hash = ?"
        )
        key = (fingerprint, space, protocol.hash)
        found: dict[str, tuple[Any, ...]] = {}
        try:
            if arch_strs is None:
                found = {r[0]: r[1:] for r in self._conn().execute(q, key)}
            else:
                want = sorted(set(arch_strs))
                for i in range(0, len(want), 500):  # SQLite caps bound variables per query
                    chunk = want[i : i + 500]
                    sql = f"{q} AND arch_str IN ({', '.join('?' * len(chunk))})"
                    found.update({r[0]: r[1:] for r in self._conn().execute(sql, (*key, *chunk))})
        except sqlite3.Error as e:
            raise self._fail("read", e) from None
        return {k: _measurement(v, protocol) for k, v in found.items()}

    def put(
        self,
        fingerprint: str,
        device: str,
        space: str,
        arch_str: str,
        measurement: Measurement,
        host: str,
    ) -> bool:
        """Commit one measurement now; returns ``False`` if the key was already stored."""
        vals = measurement.to_dict()
        phash = measurement.protocol.hash
        try:
            with self._transaction() as conn:
                cur = conn.execute(
                    f"INSERT OR IGNORE INTO measurements VALUES ({_PLACEHOLDERS})",
                    (
                        fingerprint,
                        space,
                        arch_str,
                        phash,
                        device,
                        *(vals[c] for c in _COLUMNS),
                        host,
                        _now(),
                    ),
                )
                conn.execute(
                    "DELETE FROM claims WHERE fingerprint = ? AND space = ? AND arch_str = ? "
                    "AND protocol_hash = ?",
                    (fingerprint, space, arch_str, phash),
                )
        except sqlite3.Error as e:
            raise self._fail("write", e) from None
        return cur.rowcount == 1

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` write transaction (committed, or rolled back on error)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def claim(
        self,
        fingerprint: str,
        space: str,
        protocol: Protocol,
        arch_strs: list[str],
        owner: str,
        lease_s: float = 120.0,
        limit: int | None = None,
    ) -> list[str]:
        """Claim the keys of ``arch_strs`` that are neither stored nor claimed by a live lease.

        Args:
            fingerprint: Device fingerprint.
            space: Search space name.
            protocol: Measurement protocol (its hash is part of the key).
            arch_strs: Candidate architectures, in the order to claim them.
            owner: This worker's id (:func:`new_owner`); its own claims are renewed.
            lease_s: Seconds until an unrenewed claim expires.
            limit: Claim at most this many.

        Returns:
            The architectures now claimed by ``owner`` (a subset of ``arch_strs``, same order).
        """
        if not lease_s > 0:
            raise InputError(f"claim lease_s must be > 0, got {lease_s}")
        key = (fingerprint, space, protocol.hash)
        got: list[str] = []
        try:
            with self._transaction() as conn:
                now = time.time()
                stored = {
                    r[0]
                    for r in conn.execute(
                        "SELECT arch_str FROM measurements WHERE fingerprint = ? AND space = ? "
                        "AND protocol_hash = ?",
                        key,
                    )
                }
                held = {
                    r[0]: (r[1], r[2])
                    for r in conn.execute(
                        "SELECT arch_str, owner, expires_at FROM claims WHERE fingerprint = ? "
                        "AND space = ? AND protocol_hash = ?",
                        key,
                    )
                }
                for s in dict.fromkeys(arch_strs):
                    if limit is not None and len(got) >= limit:
                        break
                    if s in stored:
                        continue
                    h = held.get(s)
                    if h is not None and h[0] != owner and h[1] > now:
                        continue
                    conn.execute(
                        "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?)",
                        (fingerprint, space, s, protocol.hash, owner, now + lease_s),
                    )
                    got.append(s)
        except sqlite3.Error as e:
            raise self._fail("write", e) from None
        return got

    def renew(self, owner: str, lease_s: float = 120.0) -> int:
        """Extend every claim of ``owner`` to expire ``lease_s`` from now; returns how many."""
        try:
            with self._transaction() as conn:
                cur = conn.execute(
                    "UPDATE claims SET expires_at = ? WHERE owner = ?",
                    (time.time() + lease_s, owner),
                )
        except sqlite3.Error as e:
            raise self._fail("write", e) from None
        return int(cur.rowcount)

    def release(self, owner: str) -> int:
        """Drop every claim of ``owner`` (a worker that stops early); returns how many."""
        try:
            with self._transaction() as conn:
                cur = conn.execute("DELETE FROM claims WHERE owner = ?", (owner,))
        except sqlite3.Error as e:
            raise self._fail("write", e) from None
        return int(cur.rowcount)

    def pin_reference(
        self, fingerprint: str, protocol: Protocol, arch_str: str, reference_ms: float
    ) -> float:
        """The pinned reference latency of a device, pinning ``reference_ms`` if none is yet.

        The drift-robust schedule scales every batch's corrected latencies to this value, so
        batches measured at different times (and by different workers) share one scale.
        """
        try:
            with self._transaction() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO references_pinned VALUES (?, ?, ?, ?, ?)",
                    (fingerprint, protocol.hash, arch_str, float(reference_ms), _now()),
                )
                row = conn.execute(
                    "SELECT reference_ms FROM references_pinned WHERE fingerprint = ? "
                    "AND protocol_hash = ?",
                    (fingerprint, protocol.hash),
                ).fetchone()
        except sqlite3.Error as e:
            raise self._fail("write", e) from None
        return float(row[0])

    def claims(self, fingerprint: str | None = None) -> pd.DataFrame:
        """Current claims (``arch_str``, ``owner``, ``expires_at`` as Unix seconds, ...)."""
        q = "SELECT fingerprint, space, arch_str, protocol_hash, owner, expires_at FROM claims"
        args: tuple[str, ...] = ()
        if fingerprint is not None:
            q, args = q + " WHERE fingerprint = ?", (fingerprint,)
        try:
            rows = self._conn().execute(q, args).fetchall()
        except sqlite3.Error as e:
            raise self._fail("read", e) from None
        cols = ["fingerprint", "space", "arch_str", "protocol_hash", "owner", "expires_at"]
        return pd.DataFrame(rows, columns=cols)

    def count(self, fingerprint: str | None = None) -> int:
        """Number of stored measurements (of one fingerprint when given)."""
        q, args = "SELECT COUNT(*) FROM measurements", ()  # type: tuple[str, tuple[str, ...]]
        if fingerprint is not None:
            q, args = q + " WHERE fingerprint = ?", (fingerprint,)
        try:
            return int(self._conn().execute(q, args).fetchone()[0])
        except sqlite3.Error as e:
            raise self._fail("read", e) from None

    def summary(self) -> list[StoreSummary]:
        """Per (fingerprint, space): device name, count and the last measurement time."""
        try:
            rows = self._conn().execute(
                "SELECT fingerprint, MIN(device), space, COUNT(*), MAX(measured_at) "
                "FROM measurements GROUP BY fingerprint, space ORDER BY MAX(measured_at) DESC"
            )
            return [StoreSummary(r[0], r[1], r[2], int(r[3]), r[4]) for r in rows]
        except sqlite3.Error as e:
            raise self._fail("read", e) from None

    def to_frame(self, fingerprint: str | None = None, space: str | None = None) -> pd.DataFrame:
        """Stored rows as a DataFrame (``arch_str``, ``latency_ms``, ``spread_ms``, ...)."""
        where, args = [], []
        if fingerprint is not None:
            where.append("fingerprint = ?")
            args.append(fingerprint)
        if space is not None:
            where.append("space = ?")
            args.append(space)
        cols = ["arch_str", *_COLUMNS, "device", "space", "fingerprint", "protocol_hash"]
        cols += ["host", "measured_at"]
        q = f"SELECT {', '.join(cols)} FROM measurements"
        if where:
            q += " WHERE " + " AND ".join(where)
        try:
            rows = self._conn().execute(q + " ORDER BY measured_at, arch_str", args).fetchall()
        except sqlite3.Error as e:
            raise self._fail("read", e) from None
        return pd.DataFrame(rows, columns=cols)

    def export_csv(
        self, out: str | Path, fingerprint: str | None = None, space: str | None = None
    ) -> Path:
        """Write one device's measurements as a CSV usable as ``csv:PATH:latency_ms``.

        Raises:
            StoreError: if nothing matches, or several fingerprints/spaces/protocols match (name
                one: a ``csv:`` device holds one latency per architecture).
        """
        df = self.to_frame(fingerprint, space)
        if df.empty:
            sel = f" for fingerprint {fingerprint}" if fingerprint else ""
            raise StoreError(f"measurement store {self.path} holds no measurements{sel}")
        for col, opt in (("fingerprint", "--fingerprint"), ("space", "--space")):
            vals = sorted(df[col].unique())
            if len(vals) > 1:
                raise StoreError(
                    f"store holds {len(vals)} {col}s ({', '.join(vals)}); choose one with {opt}"
                )
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
        return out

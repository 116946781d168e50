"""Claims (leases with an expiry) in the measurement store, so workers measure each cell once.

Before measuring, a worker claims the keys it will measure (one ``BEGIN IMMEDIATE``
transaction, so two workers never hold the same key); others skip claimed keys and wait for
their rows. A live worker renews its leases; a killed one stops renewing, its claims expire after
``lease_s`` and the keys are claimed again by whoever is still working. Storing a measurement
releases its claim in the same transaction (:meth:`MeasurementStore.put`). The drift-robust
schedule's pinned reference latency lives here too: one per device fingerprint and protocol.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from moohw.errors import InputError
from moohw.measure.protocol import MeasureError, Protocol


def new_owner() -> str:
    """A unique claim owner id for this worker: ``host:pid:random``."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ClaimsMixin:
    """Claim, renew and release keys; pin a reference latency (mixed into the store)."""

    path: Path

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _fail(self, what: str, e: Exception) -> MeasureError:
        raise NotImplementedError

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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

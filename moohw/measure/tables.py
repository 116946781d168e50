"""Measured tables that travel: a store's rows as a (compressed) CSV plus a JSON card, and back.

``export_table`` writes one device's stored measurements as a CSV (``.csv.gz`` compresses) that
is usable directly as a ``csv:PATH:latency_ms`` device, and beside it ``<name>.meta.json``: what
the fingerprint stands for (hardware, protocol, runtime) and the reference latency the
drift-robust schedule pinned. ``import_table`` puts both back into a store, so a measurement
campaign can resume in another store, on another day or machine of the same kind: rows already
there are kept (the first measurement wins, as in the store), the fingerprint is registered and
the pinned reference restored, so new batches are scaled like the imported ones.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from moohw.data import DataError
from moohw.measure.store import _COLUMNS, _PLACEHOLDERS, MeasurementStore, _now

#: Format tag of the JSON card.
META_FORMAT = "moohw-measured-table/1"
_KEY = ("fingerprint", "space", "arch_str", "protocol_hash", "device")


def meta_path(table: str | Path) -> Path:
    """The JSON card beside a table: ``t.csv`` or ``t.csv.gz`` -> ``t.meta.json``."""
    p = Path(table)
    name = p.name
    for suffix in (".gz", ".csv"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return p.with_name(name + ".meta.json")


def _rows(store: MeasurementStore, sql: str, args: tuple[str, ...]) -> list[tuple[Any, ...]]:
    try:
        return list(store._conn().execute(sql, args).fetchall())
    except sqlite3.Error as e:
        raise store._fail("read", e) from None


def export_table(
    store: MeasurementStore,
    out: str | Path,
    fingerprint: str | None = None,
    space: str | None = None,
    meta: bool = True,
    note: str | None = None,
) -> tuple[Path, Path | None]:
    """Write one device's measurements (CSV, gzip if ``out`` ends in ``.gz``) and its card.

    Args:
        store: The measurement store.
        out: CSV path (``.csv`` or ``.csv.gz``).
        fingerprint: The device (required when the store holds several).
        space: The search space (required when the store holds several).
        meta: Also write :func:`meta_path` ``(out)``.
        note: Free text kept in the card (how the table was measured).

    Returns:
        The CSV path and the card path (``None`` without ``meta``).

    Raises:
        StoreError: nothing matches, or several devices/spaces match.
    """
    path = store.export_csv(out, fingerprint, space)
    if not meta:
        return path, None
    df = pd.read_csv(path, usecols=["fingerprint", "protocol_hash", "space"])
    fp = str(df["fingerprint"].iloc[0])
    fps = _rows(
        store,
        "SELECT fingerprint, device, hardware, protocol, extra, created_at FROM fingerprints "
        "WHERE fingerprint = ?",
        (fp,),
    )
    refs = _rows(
        store,
        "SELECT fingerprint, protocol_hash, arch_str, reference_ms, created_at "
        "FROM references_pinned WHERE fingerprint = ?",
        (fp,),
    )
    card = {
        "format": META_FORMAT,
        "table": path.name,
        "rows": len(df),
        "space": str(df["space"].iloc[0]),
        "exported_at": _now(),
        "fingerprints": [
            {
                "fingerprint": r[0],
                "device": r[1],
                "hardware": json.loads(r[2]),
                "protocol": json.loads(r[3]),
                "extra": json.loads(r[4]),
                "created_at": r[5],
            }
            for r in fps
        ],
        "references_pinned": [
            {
                "fingerprint": r[0],
                "protocol_hash": r[1],
                "arch_str": r[2],
                "reference_ms": r[3],
                "created_at": r[4],
            }
            for r in refs
        ],
    }
    if note:
        card["note"] = note
    mpath = meta_path(path)
    mpath.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path, mpath


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_table` did.

    Attributes:
        rows: Rows in the table.
        inserted: Rows new to the store.
        kept: Rows whose key the store already held (left as they were).
        fingerprints: Fingerprints registered from the card (0 without a card).
        references: Pinned references restored from the card.
        reference_conflicts: Pinned references the store already held with another value
            (the store's value is kept: its rows are on that scale).
    """

    rows: int
    inserted: int
    kept: int
    fingerprints: int
    references: int
    reference_conflicts: int


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"measured table {path} does not exist")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError) as e:
        raise DataError(f"cannot read {path} as CSV: {e}") from None
    missing = [c for c in (*_KEY, *_COLUMNS) if c not in df.columns]
    if missing:
        raise DataError(
            f"{path} is not a table of `moohw store export` (missing columns: "
            f"{', '.join(missing)})"
        )
    if df[list(_COLUMNS)].isna().any().any() or (df["latency_ms"] <= 0).any():
        raise DataError(f"{path} has empty or non-positive measurements")
    return df


def import_table(
    store: MeasurementStore, table: str | Path, meta: str | Path | None = None
) -> ImportReport:
    """Put an exported table (and its card, if found) into ``store``.

    Args:
        store: The store to fill.
        table: A CSV written by :func:`export_table` / ``moohw store export``.
        meta: Its card; default :func:`meta_path` ``(table)`` when that file exists.

    Raises:
        FileNotFoundError: a missing table, or a missing ``meta`` given explicitly.
        DataError: a file that is not an exported table or card.
        StoreError: the store cannot be written.
    """
    path = Path(table)
    df = _read_table(path)
    card: dict[str, Any] | None = None
    mpath = Path(meta) if meta is not None else meta_path(path)
    if meta is not None and not mpath.is_file():
        raise FileNotFoundError(f"table card {mpath} does not exist")
    if mpath.is_file():
        try:
            card = json.loads(mpath.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"cannot read {mpath} as JSON: {e}") from None
        if not isinstance(card, dict) or card.get("format") != META_FORMAT:
            raise DataError(f"{mpath} is not a table card ({META_FORMAT})")
    now = _now()
    host = df["host"].astype(str) if "host" in df.columns else pd.Series(["imported"] * len(df))
    when = (
        df["measured_at"].astype(str)
        if "measured_at" in df.columns
        else pd.Series([now] * len(df))
    )
    values = [
        (
            str(r.fingerprint),
            str(r.space),
            str(r.arch_str),
            str(r.protocol_hash),
            str(r.device),
            *(
                float(getattr(r, c)) if not c.startswith("n_") else int(getattr(r, c))
                for c in _COLUMNS
            ),
            host.iloc[i],
            when.iloc[i],
        )
        for i, r in enumerate(df.itertuples(index=False))
    ]
    n_fp = n_ref = n_conflict = 0
    try:
        with store._transaction() as conn:
            before = conn.total_changes
            insert = f"INSERT OR IGNORE INTO measurements VALUES ({_PLACEHOLDERS})"
            conn.executemany(insert, values)
            inserted = conn.total_changes - before
            for f in (card or {}).get("fingerprints", []):
                cur = conn.execute(
                    "INSERT OR IGNORE INTO fingerprints VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        f["fingerprint"],
                        f["device"],
                        json.dumps(f["hardware"], sort_keys=True, default=str),
                        json.dumps(f["protocol"], sort_keys=True),
                        json.dumps(f["extra"], sort_keys=True, default=str),
                        f.get("created_at", now),
                    ),
                )
                n_fp += cur.rowcount
            for ref in (card or {}).get("references_pinned", []):
                key = (ref["fingerprint"], ref["protocol_hash"])
                row = conn.execute(
                    "SELECT reference_ms FROM references_pinned WHERE fingerprint = ? "
                    "AND protocol_hash = ?",
                    key,
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO references_pinned VALUES (?, ?, ?, ?, ?)",
                        (
                            *key,
                            ref["arch_str"],
                            float(ref["reference_ms"]),
                            ref.get("created_at", now),
                        ),
                    )
                    n_ref += 1
                elif abs(float(row[0]) - float(ref["reference_ms"])) > 1e-12:
                    n_conflict += 1
    except sqlite3.Error as e:
        raise store._fail("write", e) from None
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{mpath} is not a valid table card: {e!r}") from None
    return ImportReport(len(df), inserted, len(df) - inserted, n_fp, n_ref, n_conflict)

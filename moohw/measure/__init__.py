"""Live latency measurement: protocol, device fingerprints and the persistent store.

Importing this package does not import torch; timing lives in :mod:`moohw.measure.timing`.
"""

from moohw.measure.fingerprint import fingerprint, hardware_info
from moohw.measure.protocol import (
    MeasureError,
    Measurement,
    Protocol,
    summarize,
)
from moohw.measure.store import MeasurementStore, StoreError, StoreSummary, default_store_path

__all__ = [
    "MeasureError",
    "Measurement",
    "MeasurementStore",
    "Protocol",
    "StoreError",
    "StoreSummary",
    "default_store_path",
    "fingerprint",
    "hardware_info",
    "summarize",
]

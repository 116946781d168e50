"""Live latency measurement: protocol, device fingerprints and the persistent store."""

from moohw.measure.fingerprint import fingerprint, hardware_info
from moohw.measure.protocol import (
    MeasureError,
    Measurement,
    Protocol,
    cuda_available,
    measure_model,
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
    "cuda_available",
    "default_store_path",
    "fingerprint",
    "hardware_info",
    "measure_model",
    "summarize",
]

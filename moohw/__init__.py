"""moohw: hardware-aware neural architecture search as multi-objective optimisation."""

__version__ = "0.1.0"

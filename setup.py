"""Setuptools shim: metadata lives in setup.cfg.

``problems/`` and ``algorithms/`` are mapped into the ``moohw`` namespace through
``package_dir`` in setup.cfg, so they install as ``moohw.problems`` and ``moohw.algorithms``.
"""

from setuptools import setup

setup()

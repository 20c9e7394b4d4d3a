"""envdoctor: is this machine ready to run this project, and if not, exactly what to do.

Kept import-free on purpose: the console script's start-up cost is a product feature.
"""

from __future__ import annotations

__version__ = "0.1.0"

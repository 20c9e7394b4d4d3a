"""`python -m envdoctor` runs the same command line as the console script."""

from __future__ import annotations

from envdoctor.cli import run

if __name__ == "__main__":
    run()

"""Helpers shared by the probe tests: the same questions asked of every probe (how long does a
silent peer cost; what comes of any bytes at all), so each probe's test file asks them in one
line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from tests.servers.hostile import HostileLoop

from envdoctor.probes.connect import ProbeError
from envdoctor.probes.result import ProbeResult, Target
from envdoctor.probes.wire import NoAnswer

Probe = Callable[[Target, float, Callable[[str], None]], Coroutine[Any, Any, ProbeResult]]


def seconds_to_no_answer(run: Callable[[], object]) -> float:
    """How long `run` (a probe against a peer that never answers) takes to raise NoAnswer."""
    started = time.monotonic()
    with pytest.raises(NoAnswer):
        run()
    return time.monotonic() - started


def verdict_against(
    hostile_loop: HostileLoop, data: bytes, probe: Probe, **target: Any
) -> ProbeResult | ProbeError:
    """`probe` (0.5 s) against a server that sends `data` and hangs up: its verdict, or the
    ProbeError it raised. `target`: the login fields of the Target."""
    with hostile_loop.replay(data) as server:
        try:
            return asyncio.run(
                probe(Target(server.host, server.port, **target), time.monotonic() + 0.5, _quiet)
            )
        except ProbeError as exc:
            return exc


def _quiet(_text: str) -> None:
    """A probe log that keeps nothing."""

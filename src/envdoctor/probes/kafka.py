"""Kafka: an ApiVersions v0 request proves a broker speaks the Kafka protocol.

ApiVersions (api_key 18) is the one request a broker answers before anything else, SASL
included: clients send it first to learn which versions of each API the broker supports. We
send version 0, which every broker since 0.10 understands, and need no topic, no credentials
and no cluster metadata.

Framing (the Kafka protocol guide; all integers big-endian): every message is an int32 size
then that many bytes. Request header v1: int16 api_key, int16 api_version, int32
correlation_id, nullable string client_id (int16 length + bytes); ApiVersions v0 has no body.
Response header v0: int32 correlation_id (ApiVersions answers always use header v0, even
flexible versions, so that a client can read an error for a version the broker lacks); then
the v0 body: int16 error_code and an array (int32 count) of (int16 api_key, int16 min_version,
int16 max_version).

The broker must echo our (random) correlation id: a reply that does not is not an answer to
us. Error 35 UNSUPPORTED_VERSION still proves a Kafka broker (it answered in Kafka's own
framing; since 2.4 it lists the ApiVersions versions it does take). A listener that hangs up at
once (a SASL_SSL or SSL listener getting plaintext) raises `Closed`, left to the kind.
"""

from __future__ import annotations

import secrets
import struct

from envdoctor.probes.connect import Log
from envdoctor.probes.result import ProbeResult, State, Target, wrong_protocol
from envdoctor.probes.wire import Wire

API_VERSIONS = 18
CLIENT_ID = b"envdoctor"
MAX_RESPONSE = 1 << 20
"""An ApiVersions response is a few hundred bytes; a size beyond this is not Kafka talking."""

UNSUPPORTED_VERSION = 35

# The error codes an ApiVersions answer can plausibly carry (protocol guide, "Error Codes").
ERRORS = {
    -1: "UNKNOWN_SERVER_ERROR",
    7: "REQUEST_TIMED_OUT",
    8: "BROKER_NOT_AVAILABLE",
    13: "NETWORK_EXCEPTION",
    31: "CLUSTER_AUTHORIZATION_FAILED",
    33: "UNSUPPORTED_SASL_MECHANISM",
    34: "ILLEGAL_SASL_STATE",
    35: "UNSUPPORTED_VERSION",
    42: "INVALID_REQUEST",
    58: "SASL_AUTHENTICATION_FAILED",
}


def api_versions_request(correlation_id: int, version: int = 0) -> bytes:
    """ApiVersions with request header v1 (`client_id` "envdoctor"), size-prefixed."""
    body = struct.pack(">hhih", API_VERSIONS, version, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    return struct.pack(">i", len(body)) + body


def parse_api_versions(payload: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(correlation id, error code, [(api_key, min, max)]) from a v0 response (after the size).

    ValueError when the bytes are not that shape. Bytes after the array are allowed: a broker
    may append the v1+ throttle time.
    """
    if len(payload) < 6:
        raise ValueError(f"a {len(payload)}-byte response (at least 6)")
    correlation_id, error_code = struct.unpack_from(">ih", payload, 0)
    apis: list[tuple[int, int, int]] = []
    if len(payload) >= 10:
        (count,) = struct.unpack_from(">i", payload, 6)
        if count < -1 or 10 + 6 * max(count, 0) > len(payload):
            raise ValueError(f"an array of {count} APIs that does not fit the response")
        for index in range(max(count, 0)):
            apis.append(struct.unpack_from(">hhh", payload, 10 + 6 * index))
    elif error_code == 0:
        raise ValueError("a success response without its list of APIs")
    return correlation_id, error_code, apis


async def probe(target: Target, deadline: float, log: Log) -> ProbeResult:
    correlation_id = secrets.randbits(31)
    async with await Wire.open(
        target.host, target.port, deadline, tls=target.tls, server_hostname=target.host, log=log
    ) as wire:
        await wire.send(api_versions_request(correlation_id))
        log(f"sent ApiVersions v0 (correlation id {correlation_id}, client id envdoctor)")
        (size,) = struct.unpack(">i", await wire.read_exactly(4))
        if not 6 <= size <= MAX_RESPONSE:
            return _wrong(wire, f"a size prefix of {size}, not a Kafka response")
        payload = await wire.read_exactly(size)
    try:
        echoed, error_code, apis = parse_api_versions(payload)
    except ValueError as exc:
        return _wrong(wire, f"not an ApiVersions response: {exc}")
    if echoed != correlation_id:
        return _wrong(
            wire,
            f"a reply framed like Kafka but to correlation id {echoed}, "
            f"not ours ({correlation_id})",
        )
    log(f"received ApiVersions v0 response: error {error_code}, {len(apis)} APIs")
    top = max((high for key, _low, high in apis if key == API_VERSIONS), default=None)
    if error_code == 0:
        shown = f", ApiVersions up to v{top}" if top is not None else ""
        return ProbeResult(
            State.READY,
            f"Kafka broker answering ({len(apis)} APIs{shown})",
            server="Kafka",
        )
    name = ERRORS.get(error_code, "")
    label = f"error {error_code}" + (f" {name}" if name else "")
    if error_code == UNSUPPORTED_VERSION:
        takes = ""
        low = min((lo for key, lo, _hi in apis if key == API_VERSIONS), default=None)
        if low is not None and top is not None:
            takes = f"; it takes ApiVersions v{low}..v{top}"
        return ProbeResult(
            State.READY,
            f"Kafka broker answering, though it refused ApiVersions v0 ({label}{takes})",
            server="Kafka",
            code=str(error_code),
        )
    return ProbeResult(
        State.NOT_READY,
        f"the broker answered ApiVersions with {label}",
        server="Kafka",
        code=str(error_code),
    )


def _wrong(wire: Wire, what: str) -> ProbeResult:
    return wrong_protocol(bytes(wire.received), "Kafka", what)

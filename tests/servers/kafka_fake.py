"""A faithful fake Kafka broker (no server package exists here): ApiVersions from the spec.

It frames as the Kafka protocol guide says (big-endian int32 size, request header v1: api_key,
api_version, correlation_id, nullable client_id) and answers ApiVersions (key 18) like a
broker whose ApiVersions versions run `min_version..max_version`: a supported version gets its
own response layout (v0: error_code + [api_key, min, max]; v1-v2 add throttle_time_ms), and an
unsupported one gets error 35 UNSUPPORTED_VERSION in the v0 layout with the ApiVersions range it
does take (KIP-511, Kafka 2.4+). Any other API before ApiVersions, or a frame it cannot read,
makes it close the connection, as a broker does. A `mode` picks the state to reproduce:

- `ok`: a Kafka 3.x broker's API list (ApiVersions v0-v2 here; v3 is a flexible version this
  fake does not speak);
- `unsupported`: a broker that dropped ApiVersions v0 (takes v3-v4 only), so it answers 35;
- `broken`: answers error -1 UNKNOWN_SERVER_ERROR with no API list;
- `wrong_correlation`: echoes a correlation id that is not the request's;
- `close`: hangs up on connect without a byte (a SASL_SSL listener given plaintext);
- `silent`: reads and never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Iterator

import pytest
from tests.servers.mongo_fake import Fakes, FakeServer, Handler

API_VERSIONS = 18
UNSUPPORTED_VERSION = 35

# (api_key, min_version, max_version), as a Kafka 3.x broker lists them.
BROKER_APIS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 10), (1, 0, 16), (2, 0, 8), (3, 0, 12), (4, 0, 7), (5, 0, 4), (6, 0, 8), (7, 0, 3),
    (8, 0, 9), (9, 0, 9), (10, 0, 4), (11, 0, 9), (12, 0, 4), (13, 0, 5), (14, 0, 5),
    (15, 0, 5), (16, 0, 4), (17, 0, 1), (18, 0, 2), (19, 0, 7), (20, 0, 6), (21, 0, 2),
    (22, 0, 4), (23, 0, 4), (24, 0, 4), (25, 0, 3), (26, 0, 3), (27, 0, 1), (28, 0, 3),
    (29, 0, 3), (30, 0, 3), (31, 0, 3), (32, 0, 4), (33, 0, 2), (34, 0, 2), (35, 0, 4),
    (36, 0, 2), (37, 0, 3), (38, 0, 3), (39, 0, 2), (40, 0, 2), (41, 0, 3), (42, 0, 2),
    (43, 0, 2), (44, 0, 1), (45, 0, 0), (46, 0, 0), (47, 0, 0), (48, 0, 1), (49, 0, 1),
    (50, 0, 0), (51, 0, 0), (56, 0, 3), (57, 0, 1), (60, 0, 1), (61, 0, 0), (65, 0, 0),
    (66, 0, 0), (67, 0, 0),
)  # fmt: skip
"""59 APIs; ApiVersions (18) v0-v2."""

MODES = ("ok", "unsupported", "broken", "wrong_correlation", "close", "silent")


def parse_request(frame: bytes) -> tuple[int, int, int, str | None]:
    """(api_key, api_version, correlation_id, client_id) of a request header v1."""
    api_key, api_version, correlation_id, size = struct.unpack_from(">hhih", frame)
    if size < -1 or 10 + max(size, 0) > len(frame):
        raise ValueError("a client_id that does not fit the frame")
    client_id = None if size == -1 else frame[10 : 10 + size].decode("utf-8")
    return api_key, api_version, correlation_id, client_id


def api_versions_response(
    correlation_id: int, version: int, error: int, apis: tuple[tuple[int, int, int], ...]
) -> bytes:
    """Response header v0 (correlation_id) + the ApiVersions body of `version` (0-2)."""
    body = struct.pack(">ihi", correlation_id, error, len(apis))
    body += b"".join(struct.pack(">hhh", *api) for api in apis)
    if version >= 1:
        body += struct.pack(">i", 0)  # throttle_time_ms
    return struct.pack(">i", len(body)) + body


def kafka_handler(mode: str) -> Handler:
    low, high = (3, 4) if mode == "unsupported" else (0, 2)

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fake: FakeServer
    ) -> None:
        if mode == "close":
            return
        while True:
            (size,) = struct.unpack(">i", await reader.readexactly(4))
            if not 10 <= size <= 100 * 1024 * 1024:  # socket.request.max.bytes
                return
            frame = await reader.readexactly(size)
            fake.requests.append(frame)
            if mode == "silent":
                continue
            try:
                api_key, version, correlation_id, _client = parse_request(frame)
            except (ValueError, struct.error, UnicodeDecodeError):
                return
            if api_key != API_VERSIONS:
                return  # this fake only knows ApiVersions: a broker would close on garbage
            if mode == "wrong_correlation":
                correlation_id = (correlation_id + 1) & 0x7FFFFFFF
            if mode == "broken":
                reply = api_versions_response(correlation_id, 0, -1, ())
            elif low <= version <= high:
                apis = BROKER_APIS
                reply = api_versions_response(correlation_id, version, 0, apis)
            else:
                reply = api_versions_response(
                    correlation_id, 0, UNSUPPORTED_VERSION, ((API_VERSIONS, low, high),)
                )
            writer.write(reply)
            await writer.drain()

    return handle


class KafkaFakes(Fakes):
    protocol = "Kafka"
    modes = MODES
    default_mode = "ok"

    def handler(self, mode: str) -> Handler:
        return kafka_handler(mode)


@pytest.fixture(scope="session")
def kafka_fake() -> Iterator[KafkaFakes]:
    """Fake Kafka brokers for the session (see the module docstring for the modes)."""
    with contextlib.closing(KafkaFakes()) as fakes:
        yield fakes

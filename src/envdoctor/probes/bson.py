"""Just enough BSON (bsonspec.org, version 1.1) to speak `hello` to MongoDB without a driver.

The probe sends one tiny command document and reads the server's reply, whose `hello` fields
(`ok`, `isWritablePrimary`, `setName`, `$clusterTime`, ...) use the common types: double,
string, document, array, binary, ObjectId, bool, UTC datetime, null, int32, timestamp, int64 and
decimal128 (kept as its 16 raw bytes: we never compute with it). Other types (regex, JavaScript,
min/max key, the deprecated ones) are refused with a `BsonError` rather than guessed at.

The decoder reads bytes from the network, which may belong to any protocol: on malformed input
it raises `BsonError` and nothing else (no IndexError, struct.error, UnicodeDecodeError or
RecursionError), so the probe can call the reply "not MongoDB" instead of crashing.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 100
"""Deepest nesting decoded; garbage claiming more would otherwise exhaust the stack."""

_INT32 = struct.Struct("<i")
_UINT32 = struct.Struct("<I")
_INT64 = struct.Struct("<q")
_DOUBLE = struct.Struct("<d")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

_TYPE_NAMES = {
    0x06: "undefined",
    0x0B: "regular expression",
    0x0C: "DBPointer",
    0x0D: "JavaScript code",
    0x0E: "symbol",
    0x0F: "JavaScript code with scope",
    0x7F: "max key",
    0xFF: "min key",
}


class BsonError(ValueError):
    """Bytes that are not the BSON we read, or a value we cannot write."""


@dataclass(frozen=True)
class ObjectId:
    """A 12-byte ObjectId (type 0x07)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 12:
            raise BsonError("an ObjectId is 12 bytes")

    def __str__(self) -> str:
        return self.raw.hex()


@dataclass(frozen=True)
class Binary:
    """Binary data with a subtype other than 0 (generic binary decodes to plain `bytes`)."""

    data: bytes
    subtype: int

    def __post_init__(self) -> None:
        if not 0 <= self.subtype <= 255:
            raise BsonError("a binary subtype is one byte")


@dataclass(frozen=True)
class Timestamp:
    """MongoDB's internal replication timestamp (type 0x11): seconds and an ordinal."""

    time: int
    inc: int

    def __post_init__(self) -> None:
        if not (0 <= self.time < 2**32 and 0 <= self.inc < 2**32):
            raise BsonError("a timestamp holds two unsigned 32-bit numbers")


@dataclass(frozen=True)
class Decimal128:
    """An IEEE 754-2008 decimal128 (type 0x13), kept as its 16 little-endian bytes."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 16:
            raise BsonError("a decimal128 is 16 bytes")


# -- encoding -------------------------------------------------------------------------------


def encode(document: Mapping[str, Any]) -> bytes:
    """The BSON bytes of `document` (keys in their order); BsonError for what BSON cannot hold."""
    return _encode_document(document, 0)


def _encode_document(document: Mapping[str, Any], depth: int) -> bytes:
    if depth > MAX_DEPTH:
        raise BsonError(f"documents nested deeper than {MAX_DEPTH} levels")
    body = bytearray()
    for key, value in document.items():
        if not isinstance(key, str):
            raise BsonError(f"document keys must be strings, not {type(key).__name__}")
        body += _encode_element(key, value, depth)
    return _INT32.pack(len(body) + 5) + bytes(body) + b"\x00"


def _cstring(text: str) -> bytes:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise BsonError("a key must be valid UTF-8 (lone surrogate)") from None
    if b"\x00" in data:
        raise BsonError("a key must not contain a NUL character")
    return data + b"\x00"


def _string(text: str) -> bytes:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise BsonError("a string must be valid UTF-8 (lone surrogate)") from None
    return _INT32.pack(len(data) + 1) + data + b"\x00"


def _encode_element(key: str, value: Any, depth: int) -> bytes:
    name = _cstring(key)
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return b"\x08" + name + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return b"\x10" + name + _INT32.pack(value)
        if -(2**63) <= value < 2**63:
            return b"\x12" + name + _INT64.pack(value)
        raise BsonError("an integer does not fit in 64 bits")
    if isinstance(value, float):
        return b"\x01" + name + _DOUBLE.pack(value)
    if isinstance(value, str):
        return b"\x02" + name + _string(value)
    if isinstance(value, Mapping):
        return b"\x03" + name + _encode_document(value, depth + 1)
    if isinstance(value, (list, tuple)):
        items = {str(i): item for i, item in enumerate(value)}
        return b"\x04" + name + _encode_document(items, depth + 1)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return b"\x05" + name + _INT32.pack(len(data)) + b"\x00" + data
    if isinstance(value, Binary):
        return b"\x05" + name + _INT32.pack(len(value.data)) + bytes([value.subtype]) + value.data
    if isinstance(value, ObjectId):
        return b"\x07" + name + value.raw
    if isinstance(value, dt.datetime):
        return b"\x09" + name + _INT64.pack(_millis(value))
    if value is None:
        return b"\x0a" + name
    if isinstance(value, Timestamp):
        return b"\x11" + name + _UINT32.pack(value.inc) + _UINT32.pack(value.time)
    if isinstance(value, Decimal128):
        return b"\x13" + name + value.raw
    raise BsonError(f"cannot encode a {type(value).__name__} as BSON")


def _millis(value: dt.datetime) -> int:
    """Milliseconds since the epoch; a naive datetime is taken as UTC (as the drivers do)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


# -- decoding -------------------------------------------------------------------------------


def decode(data: bytes) -> dict[str, Any]:
    """The one document that `data` holds, exactly (trailing bytes are an error)."""
    document, end = decode_document(data, 0)
    if end != len(data):
        raise BsonError(f"{len(data) - end} bytes after the end of the document")
    return document


def decode_document(data: bytes, offset: int = 0) -> tuple[dict[str, Any], int]:
    """The document starting at `offset` and the offset just past it."""
    data = bytes(data)
    return _Reader(data).document(offset, 0, len(data))


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def _need(self, offset: int, count: int, end: int, what: str) -> None:
        if offset < 0 or offset + count > end:
            raise BsonError(f"truncated {what} at byte {offset}")

    def document(self, offset: int, depth: int, limit: int) -> tuple[dict[str, Any], int]:
        """The document at `offset`, which must end by `limit` (its parent's end)."""
        if depth > MAX_DEPTH:
            raise BsonError(f"documents nested deeper than {MAX_DEPTH} levels")
        data = self.data
        self._need(offset, 4, limit, "document length")
        (size,) = _INT32.unpack_from(data, offset)
        if size < 5:
            raise BsonError(f"a document length of {size} at byte {offset} (at least 5)")
        end = offset + size
        if end > limit:
            raise BsonError(
                f"the document at byte {offset} claims {size} bytes; {limit - offset} are there"
            )
        if data[end - 1] != 0:
            raise BsonError(f"the document at byte {offset} does not end with a NUL byte")
        result: dict[str, Any] = {}
        pos = offset + 4
        last = end - 1
        while pos < last:
            kind = data[pos]
            pos += 1
            key, pos = self.cstring(pos, last)
            value, pos = self.value(kind, pos, last, depth)
            result[key] = value
        if pos != last:
            raise BsonError(f"an element runs past the end of the document at byte {offset}")
        return result, end

    def cstring(self, pos: int, end: int) -> tuple[str, int]:
        stop = self.data.find(b"\x00", pos, end)
        if stop < 0:
            raise BsonError(f"an unterminated key or cstring at byte {pos}")
        return self._text(self.data[pos:stop], pos), stop + 1

    def _text(self, raw: bytes, pos: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BsonError(f"invalid UTF-8 at byte {pos}") from None

    def value(self, kind: int, pos: int, end: int, depth: int) -> tuple[Any, int]:
        data = self.data
        if kind == 0x01:
            self._need(pos, 8, end, "double")
            return _DOUBLE.unpack_from(data, pos)[0], pos + 8
        if kind == 0x02:
            self._need(pos, 4, end, "string length")
            (size,) = _INT32.unpack_from(data, pos)
            if size < 1:
                raise BsonError(f"a string length of {size} at byte {pos} (at least 1)")
            self._need(pos + 4, size, end, "string")
            stop = pos + 4 + size
            if data[stop - 1] != 0:
                raise BsonError(f"the string at byte {pos} does not end with a NUL byte")
            return self._text(data[pos + 4 : stop - 1], pos), stop
        if kind in (0x03, 0x04):
            inner, stop = self.document(pos, depth + 1, end)
            return (list(inner.values()) if kind == 0x04 else inner), stop
        if kind == 0x05:
            self._need(pos, 5, end, "binary header")
            (size,) = _INT32.unpack_from(data, pos)
            if size < 0:
                raise BsonError(f"a negative binary length at byte {pos}")
            subtype = data[pos + 4]
            self._need(pos + 5, size, end, "binary data")
            raw = data[pos + 5 : pos + 5 + size]
            return (raw if subtype == 0 else Binary(raw, subtype)), pos + 5 + size
        if kind == 0x07:
            self._need(pos, 12, end, "ObjectId")
            return ObjectId(data[pos : pos + 12]), pos + 12
        if kind == 0x08:
            self._need(pos, 1, end, "boolean")
            flag = data[pos]
            if flag not in (0, 1):
                raise BsonError(f"a boolean byte of {flag} at byte {pos} (0 or 1)")
            return flag == 1, pos + 1
        if kind == 0x09:
            self._need(pos, 8, end, "datetime")
            (millis,) = _INT64.unpack_from(data, pos)
            try:
                moment = _EPOCH + dt.timedelta(milliseconds=millis)
            except OverflowError:
                raise BsonError(f"a datetime outside years 1-9999 at byte {pos}") from None
            return moment, pos + 8
        if kind == 0x0A:
            return None, pos
        if kind == 0x10:
            self._need(pos, 4, end, "int32")
            return _INT32.unpack_from(data, pos)[0], pos + 4
        if kind == 0x11:
            self._need(pos, 8, end, "timestamp")
            inc, seconds = _UINT32.unpack_from(data, pos)[0], _UINT32.unpack_from(data, pos + 4)[0]
            return Timestamp(seconds, inc), pos + 8
        if kind == 0x12:
            self._need(pos, 8, end, "int64")
            return _INT64.unpack_from(data, pos)[0], pos + 8
        if kind == 0x13:
            self._need(pos, 16, end, "decimal128")
            return Decimal128(data[pos : pos + 16]), pos + 16
        name = _TYPE_NAMES.get(kind)
        if name:
            raise BsonError(f"BSON type {name} (0x{kind:02x}) at byte {pos} is not supported")
        raise BsonError(f"unknown BSON type 0x{kind:02x} at byte {pos}")

"""BSON by hand: the spec's own examples byte for byte, round trips of every type we support,
and garbage that may only ever raise BsonError (it comes off the network)."""

from __future__ import annotations

import datetime as dt
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envdoctor.probes.bson import (
    MAX_DEPTH,
    Binary,
    BsonError,
    Decimal128,
    ObjectId,
    Timestamp,
    decode,
    decode_document,
    encode,
)

# bsonspec.org's two examples.
HELLO_WORLD = b"\x16\x00\x00\x00\x02hello\x00\x06\x00\x00\x00world\x00\x00"
AWESOME = (
    b"\x31\x00\x00\x00\x04BSON\x00\x26\x00\x00\x00\x020\x00\x08\x00\x00\x00awesome\x00"
    b"\x011\x00\x33\x33\x33\x33\x33\x33\x14\x40\x102\x00\xc2\x07\x00\x00\x00\x00"
)


def test_the_specs_examples_encode_byte_for_byte() -> None:
    assert encode({"hello": "world"}) == HELLO_WORLD
    assert encode({"BSON": ["awesome", 5.05, 1986]}) == AWESOME


def test_the_specs_examples_decode() -> None:
    assert decode(HELLO_WORLD) == {"hello": "world"}
    assert decode(AWESOME) == {"BSON": ["awesome", 5.05, 1986]}


def test_each_type_has_its_type_byte_and_layout() -> None:
    moment = dt.datetime(2024, 1, 4, 6, 27, 16, 123000, tzinfo=dt.timezone.utc)
    oid = ObjectId(bytes.fromhex("642b972dd6128edf1d22c73b"))
    doc = {
        "d": 1.5,
        "s": "é",
        "o": {"x": None},
        "a": [True],
        "b": b"\x01\x02",
        "u": Binary(b"\x00" * 16, 4),
        "i": oid,
        "f": False,
        "t": moment,
        "n": None,
        "32": -(2**31),
        "ts": Timestamp(1704349636, 7),
        "64": 2**31,
        "dec": Decimal128(bytes(range(16))),
    }
    data = encode(doc)
    assert decode(data) == doc
    # Spot-check the layouts the spec fixes.
    assert b"\x11ts\x00" + struct.pack("<II", 7, 1704349636) in data  # increment first
    assert b"\x09t\x00" + struct.pack("<q", 1704349636123) in data
    assert b"\x05u\x00" + struct.pack("<i", 16) + b"\x04" in data
    assert b"\x1232\x00" not in data and b"\x1032\x00" in data  # int32 when it fits
    assert b"\x1264\x00" in data  # int64 when it does not
    assert str(oid) == "642b972dd6128edf1d22c73b"


def test_a_naive_datetime_is_taken_as_utc() -> None:
    naive = dt.datetime(2000, 1, 1, 12, 0)
    assert decode(encode({"t": naive}))["t"] == naive.replace(tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({1: "x"}, "keys must be strings"),
        ({"a\x00b": 1}, "NUL"),
        ({"x": 2**63}, "64 bits"),
        ({"x": {1, 2}}, "cannot encode a set"),
        ({"x": "\ud800"}, "UTF-8"),
    ],
)
def test_what_bson_cannot_hold_is_a_bson_error(value: dict, words: str) -> None:
    with pytest.raises(BsonError, match=words):
        encode(value)


def test_the_value_types_check_their_sizes() -> None:
    with pytest.raises(BsonError):
        ObjectId(b"short")
    with pytest.raises(BsonError):
        Decimal128(b"\x00" * 15)
    with pytest.raises(BsonError):
        Timestamp(-1, 0)
    with pytest.raises(BsonError):
        Binary(b"", 256)


def nested(depth: int) -> bytes:
    doc: dict = {}
    for _ in range(depth):
        doc = {"x": doc}
    return encode(doc) if depth <= MAX_DEPTH else b""


def test_nesting_is_bounded_both_ways() -> None:
    assert decode(nested(MAX_DEPTH))
    deep: dict = {}
    for _ in range(MAX_DEPTH + 2):
        deep = {"x": deep}
    with pytest.raises(BsonError, match="nested deeper"):
        encode(deep)
    # 5 000 levels by hand: without the bound this would be a RecursionError.
    data = b"\x00"
    for _ in range(5000):
        inner = b"\x03x\x00" + data if data != b"\x00" else b""
        data = struct.pack("<i", len(inner) + 5) + inner + b"\x00"
    with pytest.raises(BsonError, match="nested deeper"):
        decode(data)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "truncated document length"),
        (b"\x04\x00\x00\x00", "at least 5"),
        (b"\x06\x00\x00\x00\x00", "claims 6 bytes"),
        (b"\x05\x00\x00\x00\x01", "does not end with a NUL"),
        (b"\x09\x00\x00\x00\x08b\x00\x02\x00", "boolean byte of 2"),
        (b"\x08\x00\x00\x00\x10k\x00\x00", "truncated int32"),
        (b"\x07\x00\x00\x00\x0ak\x00", "unterminated key"),
        (b"\x08\x00\x00\x00\x0b\x00\x00\x00", "regular expression"),
        (b"\x07\x00\x00\x00\x42\x00\x00", "unknown BSON type 0x42"),
        (b"\x0e\x00\x00\x00\x02k\x00\x02\x00\x00\x00\xff\x00\x00", "invalid UTF-8"),
        (b"\x0c\x00\x00\x00\x02k\x00\x00\x00\x00\x00\x00", "string length of 0"),
        (b"\x10\x00\x00\x00\x09k\x00" + struct.pack("<q", 2**62) + b"\x00", "outside years"),
        (HELLO_WORLD + b"\x00", "1 bytes after the end"),
    ],
)
def test_malformed_input_says_what_is_wrong(data: bytes, words: str) -> None:
    with pytest.raises(BsonError, match=words):
        decode(data)


def test_decode_document_reads_one_document_inside_a_bigger_buffer() -> None:
    buffer = b"\xff\xff" + HELLO_WORLD + b"trailing"
    doc, end = decode_document(buffer, 2)
    assert doc == {"hello": "world"}
    assert buffer[end:] == b"trailing"


# -- properties --------------------------------------------------------------------------

keys = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
scalars = st.one_of(
    st.floats(allow_nan=False),
    st.text(st.characters(blacklist_categories=("Cs",))),
    st.binary(max_size=32),
    st.builds(Binary, st.binary(max_size=16), st.integers(1, 255)),
    st.builds(ObjectId, st.binary(min_size=12, max_size=12)),
    st.booleans(),
    st.datetimes(
        min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)
    ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=dt.timezone.utc)),
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.builds(Timestamp, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    st.builds(Decimal128, st.binary(min_size=16, max_size=16)),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
documents = st.dictionaries(keys, values, max_size=6)


@given(documents)
@settings(max_examples=150, deadline=None)
def test_round_trip(doc: dict) -> None:
    data = encode(doc)
    assert decode(data) == doc
    assert encode(decode(data)) == data
    assert struct.unpack_from("<i", data)[0] == len(data)


def decodes_or_says_why(data: bytes) -> None:
    """A document, or a BsonError with words: any other exception fails the test."""
    try:
        result = decode(data)
    except BsonError as exc:
        assert str(exc)
        return
    assert isinstance(result, dict)


@given(st.binary(max_size=200))
@settings(max_examples=1000, deadline=None)
def test_garbage_only_ever_raises_bson_error(data: bytes) -> None:
    decodes_or_says_why(data)
    decodes_or_says_why(struct.pack("<i", len(data) + 4) + data)  # past the length check


@given(documents, st.data())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_damaged_documents_only_ever_raise_bson_error(doc: dict, data: st.DataObject) -> None:
    """Valid BSON with bytes flipped or cut off: the garbage closest to the real thing."""
    raw = bytearray(encode(doc))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(raw) - 1))
        raw[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    decodes_or_says_why(bytes(raw))
    decodes_or_says_why(bytes(raw[:cut]))

"""Naming the protocol that answered instead: the first bytes real servers send."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envdoctor.probes.identify import describe, identify

MYSQL_GREETING = (
    struct.pack("<I", 78)[:3] + b"\x00\x0a" + b"5.5.5-10.11.6-MariaDB\x00" + b"\x00" * 20
)
MYSQL_1130 = b"\x44\x00\x00\x00\xff\x6a\x04Host '10.0.0.2' is not allowed to connect"
PG_ERROR = b"E\x00\x00\x00\x5bSFATAL\x00VFATAL\x00C0A000\x00Munsupported frontend protocol\x00\x00"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n", "HTTP"),
        (b"HTTP/1.0 200 OK\r\n", "HTTP"),
        (b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n", "SSH"),
        (b"AMQP\x00\x00\x09\x01", "AMQP"),
        (b"-ERR unknown command 'GET', with args beginning with: \r\n", "Redis"),
        (b"-NOAUTH Authentication required.\r\n", "Redis"),
        (b"+PONG\r\n", "Redis"),
        (b"ERROR\r\n", "memcached"),
        (b"VERSION 1.6.18\r\n", "memcached"),
        (b"220 mail.example ESMTP Postfix\r\n", "SMTP"),
        (b"220-mail.example ESMTP\r\n220 ready\r\n", "SMTP"),
        (b"220 (vsFTPd 3.0.3)\r\n", "FTP"),
        (b"220 ProFTPD Server ready FTP\r\n", "FTP"),
        (b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", "IMAP"),
        (b"+OK Dovecot ready.\r\n", "POP3"),
        (MYSQL_GREETING, "MySQL"),
        (MYSQL_1130, "MySQL"),
        (PG_ERROR, "PostgreSQL"),
        (b"\x16\x03\x03\x00\x4a\x02", "TLS"),
        (b"\x15\x03\x01\x00\x02\x02\x46", "TLS"),
        (b"<html><body>hi</body></html>", "HTTP"),
        (b"", ""),
        (b"\x00\x01garbage", ""),
    ],
)
def test_first_bytes_name_the_protocol(data: bytes, name: str) -> None:
    assert identify(data) == name


def test_describe_is_short_and_printable() -> None:
    assert describe(b"+PONG\r\n") == "+PONG\\r\\n"
    long = describe(bytes(range(256)))
    assert long.endswith("…") and long.isprintable()


@given(st.binary(max_size=200))
def test_never_raises(data: bytes) -> None:
    assert isinstance(identify(data), str)
    assert describe(data).isprintable()

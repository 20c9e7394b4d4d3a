"""The registry: kind name -> module. Modules are imported only when a check uses them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envdoctor.kinds.base import Kind

KINDS: dict[str, str] = {
    "python": "envdoctor.kinds.python",
    "env": "envdoctor.kinds.env",
    "file": "envdoctor.kinds.file",
    "binary": "envdoctor.kinds.binary",
    "command": "envdoctor.kinds.command",
    "tcp": "envdoctor.kinds.tcp",
    "disk": "envdoctor.kinds.disk",
    "memory": "envdoctor.kinds.memory",
    "port_free": "envdoctor.kinds.port_free",
    "packages": "envdoctor.kinds.packages",
    "imports": "envdoctor.kinds.imports",
    "postgres": "envdoctor.kinds.postgres",
    "redis": "envdoctor.kinds.redis",
    "mysql": "envdoctor.kinds.mysql",
    "mongodb": "envdoctor.kinds.mongodb",
    "amqp": "envdoctor.kinds.amqp",
    "kafka": "envdoctor.kinds.kafka",
    "memcached": "envdoctor.kinds.memcached",
    "smtp": "envdoctor.kinds.smtp",
    "http": "envdoctor.kinds.http",
}


def get_kind(name: str) -> Kind:
    return importlib.import_module(KINDS[name]).KIND  # type: ignore[no-any-return]


def all_kinds() -> list[Kind]:
    return [get_kind(name) for name in KINDS]

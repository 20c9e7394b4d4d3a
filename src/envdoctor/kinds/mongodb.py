"""`mongodb`: every host of a MongoDB URL answers `hello` with `ok: 1`.

`hello` needs no login, so it proves the server without credentials (a password in the URL is
never sent); a URL listing several hosts (`mongodb://h1,h2:27018/app`) has each of them probed,
concurrently. `?tls=true` (or the older `ssl=true`) speaks TLS from the first byte, as the
drivers do; `tlsInsecure`/`tlsAllowInvalidCertificates` or `verify = false` skip the certificate
check. `?replicaSet=rs0` is checked against the set each server reports.

`mongodb+srv://` makes the check an `error` with its own message: it names a DNS SRV record,
not hosts, and resolving SRV and TXT records needs a DNS client this tool does not carry.
"""

from __future__ import annotations

from typing import Any

from envdoctor.kinds.service import HostVerdict, ServiceKind
from envdoctor.model import Status

_TRUE = ("true", "1", "yes")


class MongodbKind(ServiceKind):
    name = "mongodb"
    protocol = "MongoDB"
    summary = "A MongoDB server answers `hello` with ok: 1 (every host of the URL)."
    passes_when = "an OP_MSG `hello` is answered with `ok: 1` (every host of the URL)"
    schemes = ("mongodb",)
    probe_module = "envdoctor.probes.mongodb"
    processes = ("mongod", "mongos")
    start_hints = (
        ("linux", "sudo systemctl start mongod"),
        ("darwin", "brew services start mongodb-community"),
    )
    docker_image = "mongo:7"
    container_port = 27017

    def validate(self, options: dict[str, Any]) -> list[tuple[str | None, str]]:
        if _is_srv(options.get("url")) and options.get("host") is None and not options.get("port"):
            # A well-formed URL this kind cannot probe: the check reports it as an `error` when
            # it runs, in its own words. (A validation message would be replaced by a generic
            # one whenever the URL comes from ${VAR}, which is where SRV URLs usually live.)
            return []
        return super().validate(options)

    def endpoint(self, options: dict[str, Any]) -> Any:
        if _is_srv(options.get("url")):
            # Never echo the URL: it may hold a password.
            raise ValueError(
                "mongodb+srv:// URLs (a DNS SRV seed list) are not supported: list the hosts "
                "instead, e.g. mongodb://host1:27017,host2:27017/app?tls=true"
            )
        return super().endpoint(options)

    def plain_fix(self, endpoint: Any) -> str | None:
        if _asks_tls(endpoint):  # TLS comes from ?tls=true here, not from the scheme
            return "the port speaks plain text: drop tls=true from the URL"
        return super().plain_fix(endpoint)

    def tls_context(self, endpoint: Any, options: dict[str, Any]) -> Any:
        if not _asks_tls(endpoint):
            return None
        from envdoctor.probes.wire import tls_context

        params = {k.lower(): v.lower() for k, v in endpoint.params.items()}
        insecure = any(
            params.get(name) in _TRUE
            for name in ("tlsinsecure", "tlsallowinvalidcertificates", "tlsallowinvalidhostnames")
        )
        return tls_context(verify=options.get("verify", True) is not False and not insecure)

    def login_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        if result.code == "replicaSet":
            return (
                "set replicaSet= in the URL to the set the server reports (or drop it), or "
                "start mongod with --replSet <name> and run rs.initiate()"
            )
        return None

    def verdict(
        self, result: Any, endpoint: Any, host: str, port: int, elapsed: float, ctx: Any
    ) -> HostVerdict:
        if result.code == "OP_REPLY":
            address = endpoint.address(host, port)
            return HostVerdict(
                address,
                Status.FAIL,
                f"MongoDB at {address} is too old: {result.message}",
                fix="upgrade MongoDB to a supported release (docker run -d -p "
                f"{port}:27017 {self.docker_image})",
            )
        return super().verdict(result, endpoint, host, port, elapsed, ctx)

    async def transport_failure(
        self, exc: Any, endpoint: Any, host: str, port: int, spec: Any, ctx: Any
    ) -> HostVerdict:
        verdict = await super().transport_failure(exc, endpoint, host, port, spec, ctx)
        from envdoctor.probes.wire import Closed

        if (
            isinstance(exc, Closed)
            and not exc.received
            and not _asks_tls(endpoint)
            and not verdict.foreign(self.processes)
        ):
            # mongod with net.tls.mode requireTLS hangs up on a plaintext hello, without a byte.
            verdict.message += "; a server that requires TLS does this to plaintext clients"
            verdict.fix = "if the server requires TLS, add tls=true to the URL (?tls=true)"
        return verdict


def _asks_tls(endpoint: Any) -> bool:
    """`?tls=true` (or the older `ssl=true`), as the drivers read it."""
    params = {k.lower(): v.lower() for k, v in endpoint.params.items()}
    return params.get("tls", params.get("ssl", "")) in _TRUE


def _is_srv(url: Any) -> bool:
    return isinstance(url, str) and url.strip().lower().startswith("mongodb+srv://")


KIND = MongodbKind()

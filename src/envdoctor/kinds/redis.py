"""`redis`: a Redis server answers PING, after AUTH when the URL carries credentials.

`redis://:pw@` sends `AUTH pw`, `redis://user:pw@` sends `AUTH user pw` (an ACL user); a database
in the path (`redis://host/2`) is SELECTed, so a URL naming a database the server does not have
fails here rather than in the tests; `rediss://` speaks TLS (`verify = false`, or redis-py's
`?ssl_cert_reqs=none` in the URL, accepts a self-signed certificate). Each refusal has its own
words: a password is needed (`-NOAUTH`), rejected (`-WRONGPASS`), the dataset is loading
(`-LOADING`), a script is busy (`-BUSY`), a replica lost its master (`-MASTERDOWN`), protected
mode turns away a non-loopback client (`-DENIED`).
"""

from __future__ import annotations

from typing import Any

from envdoctor.kinds.service import ServiceKind


class RedisKind(ServiceKind):
    name = "redis"
    protocol = "Redis"
    summary = (
        "A Redis server answers PING (after AUTH when the URL has credentials, and SELECT "
        "of the URL's database)."
    )
    passes_when = (
        "`PING` is answered `+PONG` (after a successful `AUTH` when the URL carries credentials, "
        "and `SELECT` of the database the URL's path names)"
    )
    schemes = ("redis", "rediss")
    probe_module = "envdoctor.probes.redis"
    processes = ("redis-server", "redis")
    start_hints = (
        ("linux", "sudo systemctl start redis-server"),
        ("darwin", "brew services start redis"),
    )
    docker_image = "redis:7"
    container_port = 6379

    def validate(self, options: dict[str, Any]) -> list[tuple[str | None, str]]:
        problems = super().validate(options)
        if problems or options.get("url") is None:
            return problems
        database = self.endpoint(options).database
        if database and not database.isdigit():
            # The value is not echoed: the URL may come from ${REDIS_URL}.
            return [("url", "option 'url': the path of a redis URL is a database number (/0)")]
        return []

    def tls_context(self, endpoint: Any, options: dict[str, Any]) -> Any:
        """`verify = false`, or redis-py's `?ssl_cert_reqs=none`, skips certificate checks."""
        if not endpoint.tls:
            return None
        from envdoctor.probes.wire import tls_context

        verify = options.get("verify")
        if verify is None:
            reqs = str(endpoint.params.get("ssl_cert_reqs", "")).strip().lower()
            verify = reqs not in ("none", "cert_none")
        return tls_context(verify=verify is not False)

    def not_ready_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        """Waiting helps a load; a replica without its master, or a script that never ends,
        needs somebody to act."""
        address = f"-h {host} -p {port}"
        if result.code == "MASTERDOWN":
            return (
                f"start the replica's master (`redis-cli {address} info replication` names it), "
                "or point the URL at the master"
            )
        if result.code == "BUSY":
            return (
                f"wait for the script to end, or stop it: redis-cli {address} SCRIPT KILL "
                "(FUNCTION KILL for a function)"
            )
        return super().not_ready_fix(result, endpoint, host, port)

    def credential_example(self, endpoint: Any, host: str, port: int) -> str:
        """Redis logins are usually a password alone (`requirepass`): `redis://:PASSWORD@`."""
        from envdoctor.redact import PLACEHOLDER

        path = f"/{endpoint.database}" if endpoint.database else ""
        user = endpoint.user  # an ACL user named in the URL keeps its name
        example = f"{endpoint.scheme}://{user}:{PLACEHOLDER}@{endpoint.address(host, port)}{path}"
        if user and not endpoint.has_password:
            # `redis://secret@host` names a user, not a password: a common slip.
            alone = f"{endpoint.scheme}://:{PLACEHOLDER}@{endpoint.address(host, port)}{path}"
            example += f" (a password alone goes after the colon: {alone})"
        return example

    def auth_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        if "without any password configured" in result.message or "no password" in result.message:
            return "remove the password from the URL: this server has none"
        return super().auth_fix(result, endpoint, host, port)

    def login_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        code = getattr(result, "code", "")
        address = endpoint.address(host, port)
        message = getattr(result, "message", "")
        if code == "DENIED":
            return (
                "give the default user a password (requirepass) and put it in the URL, or "
                "connect over loopback (127.0.0.1)"
            )
        if "does not exist" in message:
            return (
                "put a database the server has in the URL's path: 0 up to its `databases` "
                f"setting minus one (16 by default), e.g. {endpoint.scheme}://{address}/0"
            )
        if "Cluster" in message:
            return f"drop the database from the URL: {endpoint.scheme}://{address}"
        return None


KIND = RedisKind()

"""`memcached`: a memcached server answers `version`.

With an auth file on (`-Y`), the server answers `CLIENT_ERROR unauthenticated`: up, but it wants
credentials. `memcached://user:password@host` logs in the auth-file way (only once the server
has asked: on a server without an auth file, that login would be a `set` into the cache).
"""

from __future__ import annotations

from envdoctor.kinds.service import ServiceKind


class MemcachedKind(ServiceKind):
    name = "memcached"
    protocol = "memcached"
    summary = "A memcached server answers `version`."
    passes_when = (
        "`version` is answered `VERSION x.y.z` (after the auth-file login when the server asks "
        "for one and the URL carries it)"
    )
    schemes = ("memcached",)
    probe_module = "envdoctor.probes.memcached"
    processes = ("memcached",)
    start_hints = (
        ("linux", "sudo systemctl start memcached"),
        ("darwin", "brew services start memcached"),
    )
    docker_image = "memcached:1.6"
    container_port = 11211


KIND = MemcachedKind()

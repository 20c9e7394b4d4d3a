"""`smtp`: an SMTP server greets with `220`; `421` or `554` mean it is rejecting.

The server speaks first. `smtps://` (and port 465 with `smtp://`) starts with TLS, as implicit-TLS
submission does (RFC 8314): nobody runs plain SMTP on 465, so a URL that names that port wants
TLS whatever its scheme says.

The two TLS slips get their own fixes: `smtps://` on a plain port fails the handshake with the
server's `220` in clear text ("use smtp://"), and `smtp://` on an implicit-TLS port meets
silence, which the probe tells apart from a black hole with a TLS handshake on a second
connection ("use smtps://"); when that was not conclusive, a silent port's message still says
TLS may be what it waits for.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from envdoctor.context import CheckContext
from envdoctor.kinds.service import HostVerdict, ServiceKind
from envdoctor.model import CheckSpec

IMPLICIT_TLS_PORT = 465


class SmtpKind(ServiceKind):
    name = "smtp"
    protocol = "SMTP"
    summary = "An SMTP server greets with 220 (TLS first on smtps/465)."
    passes_when = "the server's greeting is `220` (`421`/`554` mean it is rejecting)"
    schemes = ("smtp", "smtps")
    probe_module = "envdoctor.probes.smtp"
    processes = ("exim4", "exim", "postfix", "master", "smtpd")
    start_hints = (("linux", "sudo systemctl start postfix"),)
    docker_image = ""
    container_port = 25

    def not_ready_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        """554 is a refusal of this client (a blocklist, access rules): waiting will not help."""
        if result.code == "554" or "554" in result.message.split()[:4]:
            return "the server refuses this client (554): check its access rules or relay settings"
        return super().not_ready_fix(result, endpoint, host, port)

    def tls_context(self, endpoint: Any, options: dict[str, Any]) -> Any:
        """TLS for `smtps://`, and for `smtp://` when every host is on port 465."""
        implicit = bool(endpoint.hosts) and all(
            port == IMPLICIT_TLS_PORT for _host, port in endpoint.hosts
        )
        if not (endpoint.tls or implicit):
            return None
        from envdoctor.probes.wire import tls_context

        return tls_context(verify=options.get("verify", True) is not False)

    async def transport_failure(
        self, exc: Any, endpoint: Any, host: str, port: int, spec: CheckSpec, ctx: CheckContext
    ) -> HostVerdict:
        """The shared words, in SMTP's terms: the server speaks first, so a hang-up is "without
        a greeting"; silence may be an SMTPS port; a `220` in clear text is plain SMTP."""
        from envdoctor.probes.identify import identify
        from envdoctor.probes.wire import Closed, NoAnswer, TlsFailure

        verdict = await super().transport_failure(exc, endpoint, host, port, spec, ctx)
        if isinstance(exc, Closed) and not exc.received:
            message = verdict.message.replace(
                "without an SMTP answer", "without an SMTP greeting", 1
            )
            return dataclasses.replace(verdict, message=message)
        implicit = endpoint.tls or port == IMPLICIT_TLS_PORT
        if (
            isinstance(exc, NoAnswer)
            and exc.phase != "tls"
            and not exc.received
            and not implicit
            and not verdict.foreign(self.processes)
        ):
            return dataclasses.replace(
                verdict,
                message=verdict.message + "; or it expects TLS first: try smtps://",
                fix=f"if the server expects TLS first (implicit TLS, as on port 465), use "
                f"smtps:// in the URL; else {verdict.fix}",
            )
        if isinstance(exc, TlsFailure) and endpoint.tls and identify(exc.received) == "SMTP":
            return dataclasses.replace(
                verdict, fix="the port speaks plain SMTP: use smtp:// instead of smtps://"
            )
        return verdict


KIND = SmtpKind()

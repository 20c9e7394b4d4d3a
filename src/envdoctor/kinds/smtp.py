"""`smtp`: an SMTP server greets with `220`; `421` or `554` mean it is rejecting.

The server speaks first. `smtps://` (and port 465 with `smtp://`) starts with TLS, as implicit-TLS
submission does (RFC 8314): nobody runs plain SMTP on 465, so a URL that names that port wants
TLS whatever its scheme says.
"""

from __future__ import annotations

from typing import Any

from envdoctor.kinds.service import ServiceKind

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


KIND = SmtpKind()

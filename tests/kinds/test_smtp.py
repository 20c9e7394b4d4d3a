"""`smtp` end to end: the installed CLI against a real aiosmtpd (plain and implicit TLS) and
scripted refusals, with a canary password in the URL that must not appear in any output."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from tests.conftest import Project
from tests.kinds._helpers import reported
from tests.servers.hostile import HostileServer
from tests.servers.mariadb import Mariadb
from tests.servers.smtp import SMTP_HOSTNAME, SMTP_IDENT, BannerServer, SmtpServer

from envdoctor.kinds.smtp import KIND

CANARY = "smtpCanary4R9"
CHECK = '[[check]]\nid = "mail"\nkind = "smtp"\nurl = "${SMTP_URL}"\n'


def check_url(project: Project, url: str, *lines: str) -> dict[str, Any]:
    """JSON, console and `explain` with SMTP_URL=url; the canary is in none of them."""
    project.checks(CHECK + "".join(f"{line}\n" for line in lines))
    return reported(project, "mail", {"SMTP_URL": url}, [CANARY])


def test_greeting_passes_with_credentials_never_shown(
    project: Project, smtp_server: SmtpServer
) -> None:
    found = check_url(project, f"smtp://mailer:{CANARY}@127.0.0.1:{smtp_server.port}")
    assert found["status"] == "pass"
    assert found["message"].startswith(
        f"SMTP server {SMTP_HOSTNAME} ({SMTP_IDENT}) ready at 127.0.0.1:{smtp_server.port} in "
    )
    assert "sent QUIT; the server answered 221" in found["explain"]


def test_421_is_not_ready(project: Project, smtp_banner: Callable[[bytes], BannerServer]) -> None:
    server = smtp_banner(b"421 4.3.2 mx.example.org Service shutting down\r\n")
    found = check_url(project, f"smtp://mailer:{CANARY}@127.0.0.1:{server.port}")
    assert found["status"] == "fail"
    assert found["message"] == (
        f"SMTP at 127.0.0.1:{server.port} is not ready: rejecting connections: "
        "421 4.3.2 mx.example.org Service shutting down"
    )


def test_554_is_not_ready(project: Project, smtp_banner: Callable[[bytes], BannerServer]) -> None:
    server = smtp_banner(b"554 5.7.1 mx.example.org: your address is listed\r\n")
    found = check_url(project, f"smtp://127.0.0.1:{server.port}")
    assert found["status"] == "fail"
    assert found["message"].endswith(
        "is not ready: rejecting connections: 554 5.7.1 mx.example.org: your address is listed"
    )


def test_smtps_with_verify_off(project: Project, smtps_server: SmtpServer) -> None:
    found = check_url(
        project, f"smtps://mailer:{CANARY}@127.0.0.1:{smtps_server.port}", "verify = false"
    )
    assert found["status"] == "pass"
    assert found["message"].startswith(
        f"SMTP server {SMTP_HOSTNAME} ({SMTP_IDENT}) ready over TLS at 127.0.0.1:"
    )
    assert "TLS established (TLSv1." in found["explain"]


def test_smtps_self_signed_fails_verification(project: Project, smtps_server: SmtpServer) -> None:
    found = check_url(project, f"smtps://mailer:{CANARY}@127.0.0.1:{smtps_server.port}")
    assert found["status"] == "fail"
    assert (
        found["message"]
        == f"TLS failed with 127.0.0.1:{smtps_server.port}: self-signed certificate"
    )
    assert "verify = false" in found["fix"]


def test_smtps_to_a_plain_server_names_smtp(project: Project, smtp_server: SmtpServer) -> None:
    found = check_url(project, f"smtps://127.0.0.1:{smtp_server.port}", "verify = false")
    assert found["status"] == "fail"
    assert found["message"] == (
        f"TLS failed with 127.0.0.1:{smtp_server.port}: wrong version number "
        "(SMTP answered in plain text)"
    )
    assert found["fix"] == "the port speaks plain SMTP: use smtp:// instead of smtps://"


def test_smtp_to_an_implicit_tls_server_says_use_smtps(
    project: Project, smtps_server: SmtpServer
) -> None:
    found = check_url(project, f"smtp://mailer:{CANARY}@127.0.0.1:{smtps_server.port}")
    assert found["status"] == "fail"
    assert found["message"] == (
        f"TLS answered at 127.0.0.1:{smtps_server.port}, not SMTP (it sent no greeting in plain "
        "text, but completed a TLS handshake on a second connection: the server expects TLS "
        "first (implicit TLS, as on port 465): use smtps://)"
    )
    assert found["fix"] == "the port speaks TLS: use smtps:// in the URL"
    assert found["duration_ms"] < 1500  # the default deadline is not waited out


def test_a_server_that_closes_at_once(project: Project, closer: HostileServer) -> None:
    found = check_url(project, f"smtp://127.0.0.1:{closer.port}")
    assert found["status"] == "fail"
    assert found["message"].startswith(
        f"127.0.0.1:{closer.port} closed the connection without an SMTP greeting"
    )
    assert "it sent" not in found["message"]
    assert found["fix"].startswith(f"check the port: {closer.port} does not speak SMTP")


def test_a_silent_port_may_be_waiting_for_tls(project: Project, black_hole: HostileServer) -> None:
    found = check_url(project, f"smtp://127.0.0.1:{black_hole.port}", 'timeout = "1s"')
    assert found["status"] == "fail"
    assert found["message"].startswith(
        f"connected to 127.0.0.1:{black_hole.port}, but no answer within 1.0 s waiting for the "
        "SMTP reply: "
    )
    assert found["message"].endswith("; or it expects TLS first: try smtps://")
    assert found["fix"] == (
        "if the server expects TLS first (implicit TLS, as on port 465), use smtps:// in the URL; "
        f"else check the port: {black_hole.port} does not speak SMTP (SMTP's usual port is 25)"
    )


def test_mysql_on_the_port_is_named(project: Project, mariadb: Mariadb) -> None:
    found = check_url(project, f"smtp://127.0.0.1:{mariadb.port}")
    assert found["status"] == "fail"
    assert found["message"].startswith(f"MySQL answered at 127.0.0.1:{mariadb.port}, not SMTP")
    assert found["fix"].startswith(f"check the port: {mariadb.port} ")
    assert found["fix"].endswith("(SMTP's usual port is 25)")


def test_host_and_port_options(project: Project, smtp_server: SmtpServer) -> None:
    project.checks(
        f'[[check]]\nid = "mail"\nkind = "smtp"\nhost = "127.0.0.1"\nport = {smtp_server.port}\n'
    )
    result = project.run("check", "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    (found,) = result.json()["checks"]
    assert found["message"].startswith(f"SMTP server {SMTP_HOSTNAME} ({SMTP_IDENT}) ready at ")


def test_port_465_means_implicit_tls_whatever_the_scheme() -> None:
    # Nothing may listen on 465 in a test, so this is the kind's choice seen directly.
    for options in ({"url": "smtp://mail.example:465"}, {"host": "mail.example", "port": 465}):
        context = KIND.tls_context(KIND.endpoint(options), options)
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode is ssl.CERT_REQUIRED
    unverified = {"url": "smtp://mail.example:465", "verify": False}
    assert KIND.tls_context(KIND.endpoint(unverified), unverified).verify_mode is ssl.CERT_NONE
    for plain in ("smtp://mail.example", "smtp://mail.example:587", "smtp://a:465,b:25"):
        assert KIND.tls_context(KIND.endpoint({"url": plain}), {"url": plain}) is None
    secure = {"url": "smtps://mail.example:2465"}
    assert KIND.tls_context(KIND.endpoint(secure), secure) is not None

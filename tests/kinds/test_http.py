"""`http` end to end: the real CLI against real local servers — every answer class with its
message and fix, the total deadline, proxies, secrets, and httpx kept off the start-up path.

Most classes share one CLI run (`report`): a project with one check per case, run once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.conftest import Project, clean_env, closed_port, envdoctor_executable, full_backlog
from tests.servers import http_fake
from tests.servers.hostile import HostileLoop
from tests.servers.http_fake import RawServer, Web
from tests.servers.mariadb import Mariadb
from tests.servers.process import free_port, self_signed_cert

from envdoctor.kinds.http import KIND, parse_http_url


@pytest.fixture(scope="module")
def web() -> Iterator[Web]:
    with http_fake.web() as server:
        yield server


@pytest.fixture(scope="module")
def tls_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    cert = self_signed_cert(tmp_path_factory.mktemp("tls"))
    with http_fake.web(tls=cert) as server:
        yield server


TLS_ALERT = b"\x15\x03\x01\x00\x02\x02\x46"
"""A TLS server's answer to plain text, when it answers at all: alert, protocol_version."""


@pytest.fixture(scope="module")
def servers(hostile_loop: HostileLoop) -> Iterator[dict[str, RawServer]]:
    with (
        http_fake.drip() as drip,
        http_fake.drip(head_at_once=True) as drip_body,
        http_fake.black_hole() as hole,
        http_fake.line_server() as redis_like,
        http_fake.line_server(b"HTTP/1.1 abc\r\n\r\n") as malformed,
        http_fake.hang_up() as hang_up,
        http_fake.whole_head() as whole_head,
        hostile_loop.responder(TLS_ALERT) as alert,
    ):
        yield {
            "drip": drip,
            "drip_body": drip_body,
            "hole": hole,
            "redis": redis_like,
            "malformed": malformed,
            "hang_up": hang_up,
            "whole_head": whole_head,
            "alert": RawServer(alert.port),
        }


def toml_checks(checks: dict[str, str]) -> str:
    return "".join(
        f'[[check]]\nid = "{i}"\nkind = "http"\n{body}\n\n' for i, body in checks.items()
    )


@pytest.fixture(scope="module")
def report(
    tmp_path_factory: pytest.TempPathFactory,
    web: Web,
    tls_web: Web,
    servers: dict[str, RawServer],
) -> dict[str, dict[str, Any]]:
    """One `envdoctor check --format json` over a check per case: id -> check."""
    project = Project(tmp_path_factory.mktemp("http-project"))
    refused = closed_port()
    checks = {
        "ok": f'url = "{web.url("/ok")}"\ncontains = "status green"',
        "redirect": f'url = "{web.url("/redirect")}"',
        "redirect_200": f'url = "{web.url("/redirect")}"\nexpect_status = 200',
        "login": f'url = "{web.url("/login")}"',
        "forbidden": f'url = "{web.url("/forbidden")}"',
        "unavailable": f'url = "{web.url("/unavailable")}"',
        "missing": f'url = "{web.url("/nope")}"',
        "missing_expected": f'url = "{web.url("/nope")}"\nexpect_status = 404',
        "missing_list": f'url = "{web.url("/nope")}"\nexpect_status = [200, 204]',
        "no_match": f'url = "{web.url("/ok")}"\ncontains = "status red"',
        "big": f'url = "{web.url("/big")}"\ncontains = "needle-at-the-end"',
        "post": f'url = "{web.url("/post-only")}"\nmethod = "post"',
        "get_post_only": f'url = "{web.url("/post-only")}"',
        "head": f'url = "{web.url("/ok")}"\nmethod = "HEAD"',
        "tls_noverify": f'url = "{tls_web.url("/ok")}"\nverify = false',
        "tls_verify": f'url = "{tls_web.url("/ok")}"',
        "tls_plain": f'url = "{web.url("/ok").replace("http://", "https://")}"',
        "tls_plain_silent": f'url = "{servers["whole_head"].url("/ok", "https")}"',
        "plain_tls": f'url = "{tls_web.url("/ok").replace("https://", "http://")}"',
        "plain_alert": f'url = "{servers["alert"].url("/ok")}"',
        "drip": f'url = "{servers["drip"].url()}"\ntimeout = "1s"',
        "drip_body": f'url = "{servers["drip_body"].url()}"\ntimeout = "1s"',
        "hole": f'url = "{servers["hole"].url()}"\ntimeout = "1s"',
        "redis": f'url = "{servers["redis"].url()}"',
        "malformed": f'url = "{servers["malformed"].url()}"',
        "hang_up": f'url = "{servers["hang_up"].url()}"',
        "refused": f'url = "http://127.0.0.1:{refused}/health"',
        "dns": 'url = "http://no-such-service.envdoctor.invalid:8080/health"',
    }
    with full_backlog() as backlog:
        checks["backlog"] = f'url = "http://127.0.0.1:{backlog}/"\ntimeout = "1s"'
        project.checks(toml_checks(checks))
        result = project.run("check", "--format", "json")
    assert result.code == 1, result.stderr
    return {check["id"]: check for check in result.json()["checks"]}


def test_ready(report: dict[str, dict[str, Any]], web: Web) -> None:
    check = report["ok"]
    assert check["status"] == "pass"
    assert re.fullmatch(
        rf"HTTP 200 OK from http://127\.0\.0\.1:{web.port}/ok in [\d.]+ m?s, "
        r"body contains 'status green'",
        check["message"],
    ), check["message"]


def test_a_redirect_passes_by_default_and_is_not_followed(
    report: dict[str, dict[str, Any]], web: Web
) -> None:
    check = report["redirect"]
    assert check["status"] == "pass"
    assert check["message"].startswith(f"HTTP 302 Found from {web.url('/redirect')} in ")
    assert check["message"].endswith("(redirects to /ok)")
    check = report["redirect_200"]
    assert check["status"] == "fail"
    assert check["message"] == (
        f"expected 200, got 302 Found from {web.url('/redirect')} (redirects to /ok)"
    )
    assert "redirect's target" in check["fix"]


@pytest.mark.parametrize("case", ["login", "forbidden"])
def test_needs_credentials_is_a_warning(
    report: dict[str, dict[str, Any]], web: Web, case: str
) -> None:
    check = report[case]
    assert check["status"] == "warn"
    status = "401 Unauthorized" if case == "login" else "403 Forbidden"
    assert check["message"].startswith(f"HTTP {status} from {web.url('/' + case)}: ")
    assert "up but needs credentials" in check["message"]
    assert check["fix"].startswith(
        f"put the credentials in the URL: http://USER:PASSWORD@127.0.0.1:{web.port}/{case}, "
    )


def test_basic_scheme_is_named(report: dict[str, dict[str, Any]]) -> None:
    assert report["login"]["message"].endswith("up but needs credentials (Basic auth)")


def test_service_unavailable_is_not_ready(report: dict[str, dict[str, Any]], web: Web) -> None:
    check = report["unavailable"]
    assert check["status"] == "fail"
    assert check["message"] == (
        f"{web.url('/unavailable')} is not ready (503 Service Unavailable); it asks to retry in 7 s"
    )
    assert check["fix"] == "wait for it: envdoctor check --wait 60s"


def test_unexpected_status(report: dict[str, dict[str, Any]], web: Web) -> None:
    check = report["missing"]
    assert check["status"] == "fail"
    assert check["message"] == f"expected 2xx or 3xx, got 404 Not Found from {web.url('/nope')}"
    assert check["fix"] == "check the path in the URL"
    assert report["missing_expected"]["status"] == "pass"
    assert report["missing_list"]["message"] == (
        f"expected 200 or 204, got 404 Not Found from {web.url('/nope')}"
    )


def test_body_without_the_text(report: dict[str, dict[str, Any]], web: Web) -> None:
    check = report["no_match"]
    assert check["status"] == "fail"
    assert check["message"] == (
        f"HTTP 200 OK from {web.url('/ok')}, but the body does not contain 'status red' "
        "(41 bytes read); it begins 'hello from the fake server: status green'"
    )
    assert check["fix"] == f"see what it answers: curl -sS {web.url('/ok')}"


def test_body_read_is_capped(report: dict[str, dict[str, Any]]) -> None:
    check = report["big"]
    assert check["status"] == "fail"
    assert "(the first 1.0 MiB of a longer body read)" in check["message"]


def test_methods(report: dict[str, dict[str, Any]], web: Web) -> None:
    assert report["post"]["status"] == "pass"
    assert report["post"]["message"].startswith(f"HTTP 201 Created from {web.url('/post-only')}")
    check = report["get_post_only"]
    assert check["status"] == "fail"
    assert "got 405 Method Not Allowed" in check["message"]
    assert check["fix"].startswith("check the method")
    assert report["head"]["status"] == "pass"
    assert ("POST", "/post-only") in {(s.method, s.path) for s in web.seen}
    assert ("HEAD", "/ok") in {(s.method, s.path) for s in web.seen}


def test_tls(report: dict[str, dict[str, Any]], tls_web: Web, web: Web) -> None:
    assert report["tls_noverify"]["status"] == "pass"
    assert report["tls_noverify"]["message"].startswith(f"HTTP 200 OK from {tls_web.url('/ok')}")
    check = report["tls_verify"]
    assert check["status"] == "fail"
    assert check["message"] == (
        f"TLS failed with 127.0.0.1:{tls_web.port}: certificate verification failed: "
        "self-signed certificate"
    )
    assert "verify = false" in check["fix"]
    check = report["tls_plain"]
    assert check["status"] == "fail"
    # http.server answers the ClientHello as an HTTP/0.9 request: with the page alone.
    assert check["message"] == (
        f"TLS failed with 127.0.0.1:{web.port}: wrong version number: the port speaks plain HTTP "
        "(it answered the TLS handshake with <!DOCTYPE HTML>)"
    )
    assert check["fix"] == f"the port speaks plain HTTP: use {web.url('/ok')}"


def test_https_on_a_plain_port_that_waits_for_a_whole_head(
    report: dict[str, dict[str, Any]], servers: dict[str, RawServer]
) -> None:
    # uvicorn says nothing to a ClientHello; a plain request on a second connection is answered.
    check = report["tls_plain_silent"]
    port = servers["whole_head"].port
    assert check["status"] == "fail"
    assert check["message"] == (
        f"TLS failed with 127.0.0.1:{port}: no answer to the TLS handshake: the port speaks "
        "plain HTTP (a plain request on a second connection got HTTP/1.1 400 Bad Request)"
    )
    assert check["fix"] == f"the port speaks plain HTTP: use {servers['whole_head'].url('/ok')}"
    assert check["duration_ms"] < 1500  # at the patience, not at the 5 s deadline


def test_http_on_a_tls_port(
    report: dict[str, dict[str, Any]], tls_web: Web, servers: dict[str, RawServer]
) -> None:
    # Python's ssl hangs up on plain text without a byte; a TLS handshake then completes.
    check = report["plain_tls"]
    assert check["status"] == "fail"
    assert check["message"] == (
        f"TLS answered at 127.0.0.1:{tls_web.port}, not HTTP (it closed the plain-text "
        "connection without a word, then completed a TLS handshake)"
    )
    assert check["fix"] == f"the port speaks TLS: use {tls_web.url('/ok')}"
    # Servers that answer plain text with a TLS alert say so at once.
    check = report["plain_alert"]
    port = servers["alert"].port
    assert check["status"] == "fail"
    assert check["message"] == (
        f"TLS answered at 127.0.0.1:{port}, not HTTP (it answered the plain HTTP request with "
        "\\x15\\x03\\x01\\x00\\x02\\x02F)"
    )
    assert check["fix"] == f"the port speaks TLS: use https://127.0.0.1:{port}/ok"


def test_a_mysql_port_is_named(project: Project, mariadb: Mariadb) -> None:
    # MariaDB greets first, then resets the connection on the request: its greeting names it
    # however the reset and our writes interleave (several checks at once vary the timing).
    url = f'url = "http://127.0.0.1:{mariadb.port}/health"'
    project.checks(toml_checks({f"db{i}": url for i in range(6)}))
    result = project.run("check", "--format", "json")
    for check in result.json()["checks"]:
        assert check["status"] == "fail"
        assert check["message"].startswith(
            f"MySQL answered at 127.0.0.1:{mariadb.port}, not HTTP "
            "(it sent d\\x00\\x00\\x00\\n5.5.5-10."
        ), check["message"]
        assert check["fix"] == (
            f"check the URL's port: {mariadb.port} does not answer as an HTTP server"
        )


def test_the_scheme_fix_keeps_the_port_and_masks_the_login() -> None:
    from types import SimpleNamespace

    from envdoctor.probes.http import HttpRequest

    ctx: Any = SimpleNamespace(session=SimpleNamespace(redact=lambda text: text))
    for url, scheme, fixed in [
        ("https://api.example.com/health?x=1", "http", "http://api.example.com:443/health?x=1"),
        ("http://[::1]:8080/", "https", "https://[::1]:8080/"),
        ("https://bob:s3cret-pw@db.example/", "http", "http://bob:***@db.example:443/"),
        ("http://[::1]/", "https", "https://[::1]:80/"),
    ]:
        target = parse_http_url(url)
        request = HttpRequest(target.url, auth=(target.user, target.password))
        speaks = "TLS" if scheme == "https" else "plain HTTP"
        assert (
            KIND._scheme_fix(ctx, request, target, scheme)
            == f"the port speaks {speaks}: use {fixed}"
        )


def test_a_dripping_server_is_cut_at_the_deadline(
    report: dict[str, dict[str, Any]], servers: dict[str, RawServer]
) -> None:
    check = report["drip"]
    assert check["status"] == "fail"
    assert check["message"] == (
        f"no complete answer within 1.0 s from {servers['drip'].url()}: only 1 byte arrived (H)"
    )
    assert check["duration_ms"] <= 1300
    check = report["drip_body"]
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"no complete answer within 1.0 s from {servers['drip_body'].url()}: "
        "HTTP 200 OK arrived, then only "
    )
    assert check["duration_ms"] <= 1300


def test_a_black_hole(report: dict[str, dict[str, Any]], servers: dict[str, RawServer]) -> None:
    check = report["hole"]
    port = servers["hole"].port
    assert check["status"] == "fail"
    # The black hole is this test process: psutil names it as the port's holder.
    assert check["message"] == (
        f"connected to 127.0.0.1:{port}, but no answer within 1.0 s: {_me()} holds that "
        "port: another server, waiting for the client to speak"
    )
    assert 950 <= check["duration_ms"] <= 1300


def test_another_protocol_is_named(
    report: dict[str, dict[str, Any]], servers: dict[str, RawServer]
) -> None:
    check = report["redis"]
    port = servers["redis"].port
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"Redis answered at 127.0.0.1:{port}, not HTTP (it sent -ERR unknown command\\r\\n"
    )
    assert check["fix"] == f"check the URL's port: {port} does not answer as an HTTP server"
    assert check["duration_ms"] < 1000  # told at once, not at the deadline


def test_a_malformed_answer_and_a_hang_up(
    report: dict[str, dict[str, Any]], servers: dict[str, RawServer]
) -> None:
    check = report["malformed"]
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"a malformed HTTP answer from 127.0.0.1:{servers['malformed'].port}: illegal status line"
    )
    check = report["hang_up"]
    port = servers["hang_up"].port
    assert check["status"] == "fail"
    assert check["message"] == (
        f"127.0.0.1:{port} closed the connection without an HTTP answer ({_me()} holds that port)"
    )
    assert check["fix"] == f"check the URL's port: {port} does not answer as an HTTP server"


def test_refused_dns_and_connect_timeout_in_the_service_kinds_words(
    report: dict[str, dict[str, Any]],
) -> None:
    check = report["refused"]
    port = int(check["message"].split(":")[1].split(";")[0])
    assert check["status"] == "fail"
    assert check["message"] == f"refused at 127.0.0.1:{port}; nothing listens on port {port}"
    check = report["dns"]
    assert check["status"] == "fail"
    assert check["message"] == "DNS name not found: no-such-service.envdoctor.invalid"
    check = report["backlog"]
    assert check["status"] == "fail"
    assert re.fullmatch(r"timed out after 1\.0 s connecting to 127\.0\.0\.1:\d+", check["message"])
    assert check["duration_ms"] <= 1300


def test_headers_reach_the_server(project: Project, web: Web) -> None:
    project.checks(
        toml_checks(
            {
                "gate": f'url = "{web.url("/gate")}"\nheaders = {{ X-Canary = "{web.canary}" }}',
                "gate_wrong": f'url = "{web.url("/gate")}"\nheaders = {{ X-Canary = "nope" }}',
            }
        )
    )
    result = project.run("check", "--format", "json")
    checks = {c["id"]: c for c in result.json()["checks"]}
    assert checks["gate"]["status"] == "pass"
    assert checks["gate_wrong"]["message"].startswith("expected 2xx or 3xx, got 400 Bad Request")
    assert web.canary in {s.canary for s in web.seen if s.path == "/gate"}


# -- secrets -------------------------------------------------------------------------------


def test_secrets_never_shown_in_any_format(project: Project, web: Web) -> None:
    """A password in the URL (literal, and from ${VAR}), a token as the URL's user, and a
    header value a server echoes back: in no report of any format, nor in any message."""
    token = "canary-token-5544332211"
    env_password = "canary-env-password-778899"
    checks = {
        "basic_ok": f'url = "http://{web.user}:{web.password}@127.0.0.1:{web.port}/basic"',
        "basic_bad": f'url = "http://{web.user}:wrong-{web.password}@127.0.0.1:{web.port}/basic"',
        "from_env": 'url = "${SERVICE_URL}"',
        "token_user": f'url = "http://{token}@127.0.0.1:{web.port}/basic"',
        "echo": (
            f'url = "{web.url("/echo")}"\ncontains = "never there"\n'
            f'headers = {{ X-Canary = "{web.canary}" }}'
        ),
    }
    project.checks(toml_checks(checks))
    env = {"SERVICE_URL": f"http://{web.user}:{env_password}@127.0.0.1:{web.port}/basic"}
    outputs = []
    for fmt in ("console", "json", "junit", "github", "markdown"):
        result = project.run("check", "-v", "--format", fmt, env=env)
        assert result.code == 1, result.stderr
        outputs.append(result.stdout + result.stderr)
    for check_id in ("basic_ok", "basic_bad", "from_env"):  # their options are shown too
        result = project.run("explain", check_id, env=env)
        assert "***@127.0.0.1" in result.stdout
        outputs.append(result.stdout + result.stderr)
    for text in outputs:
        for canary in (web.password, env_password, token, web.canary):
            assert canary not in text
    report = {
        c["id"]: c for c in project.run("check", "--format", "json", env=env).json()["checks"]
    }
    assert report["basic_ok"]["status"] == "pass"
    assert report["basic_ok"]["message"].startswith(
        f"HTTP 200 OK from http://{web.user}:***@127.0.0.1:{web.port}/basic in "
    )
    assert report["basic_bad"]["status"] == "fail"
    assert report["basic_bad"]["message"].endswith(": the credentials were rejected")
    assert report["from_env"]["status"] == "fail"  # a password the server does not know
    assert report["token_user"]["message"].startswith(
        f"HTTP 401 Unauthorized from http://***@127.0.0.1:{web.port}/basic"
    )
    assert "it begins 'you said *** and more'" in report["echo"]["message"]


def test_explain_masks_header_values_and_url_tokens(project: Project, web: Web) -> None:
    token = "canary-token-5544332211"
    project.checks(
        toml_checks(
            {
                "token_user": f'url = "http://{token}@127.0.0.1:{web.port}/basic"',
                "echo": f'url = "{web.url("/echo")}"\nheaders = {{ X-Canary = "{web.canary}" }}',
            }
        )
    )
    for check_id in ("token_user", "echo"):
        result = project.run("explain", check_id)
        assert "with header X-Canary" in result.stdout or check_id == "token_user"
        assert token not in result.stdout + result.stderr
        assert web.canary not in result.stdout + result.stderr


# -- proxies -------------------------------------------------------------------------------


def test_proxy_variables_cannot_reroute_a_loopback_check(project: Project, web: Web) -> None:
    with http_fake.black_hole() as hole:
        dead = f"http://127.0.0.1:{hole.port}"
        env = {name: dead for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy")}
        env.update({"NO_PROXY": "", "no_proxy": ""})
        project.checks(
            toml_checks(
                {
                    "ip": f'url = "{web.url("/ok")}"\ncontains = "green"\ntimeout = "2s"',
                    "name": f'url = "{web.url("/ok", host="localhost")}"\ntimeout = "2s"',
                }
            )
        )
        result = project.run("check", "--format", "json", env=env)
        explained = project.run("explain", "ip", env=env).stdout
    assert result.code == 0, result.stdout + result.stderr
    assert all(c["duration_ms"] < 1000 for c in result.json()["checks"])
    assert "direct (loopback: proxy variables ignored)" in explained


def test_remote_hosts_still_use_the_proxy(project: Project, web: Web) -> None:
    with http_fake.proxy() as proxy:
        env = {"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}", "NO_PROXY": "", "no_proxy": ""}
        project.checks(
            toml_checks(
                {
                    "remote": 'url = "http://service.envdoctor.invalid/health"\n'
                    'contains = "via proxy"',
                    "local": f'url = "{web.url("/ok")}"\ncontains = "status green"',
                }
            )
        )
        result = project.run("check", "--format", "json", env=env)
    assert result.code == 0, result.stdout
    assert proxy.request_lines == ["GET http://service.envdoctor.invalid/health HTTP/1.1"]


def test_a_dead_proxy_is_named_for_remote_hosts(project: Project) -> None:
    env = {"HTTP_PROXY": f"http://127.0.0.1:{closed_port()}", "NO_PROXY": "", "no_proxy": ""}
    project.checks(toml_checks({"remote": 'url = "http://service.envdoctor.invalid/health"'}))
    result = project.run("check", "--format", "json", env=env)
    (check,) = result.json()["checks"]
    assert check["status"] == "fail"
    assert check["message"].startswith(
        "could not reach http://service.envdoctor.invalid/health through the proxy from "
        "HTTP_PROXY: ConnectError"
    )
    assert check["fix"] == "check HTTP_PROXY, or add service.envdoctor.invalid to NO_PROXY"


# -- the budget ----------------------------------------------------------------------------


def test_fifty_black_holes_finish_together(project: Project) -> None:
    with http_fake.black_hole() as hole:
        project.checks(
            toml_checks(
                {f"hole{i}": f'url = "{hole.url(f"/{i}")}"\ntimeout = "1s"' for i in range(50)}
            )
        )
        started = time.monotonic()
        result = project.run("check", "--format", "json")
        took = time.monotonic() - started
    checks = result.json()["checks"]
    assert len(checks) == 50
    assert all("but no answer within 1.0 s" in c["message"] for c in checks)
    assert took <= 1.5


def test_no_socket_or_task_left_behind(project: Project, web: Web, tls_web: Web) -> None:
    """Python's development mode reports unclosed sockets and transports, and tasks destroyed
    while pending: a run with passes, TLS failures, a black hole and a drip leaves none."""
    with http_fake.black_hole() as hole, http_fake.drip() as drip, http_fake.whole_head() as silent:
        project.checks(
            toml_checks(
                {
                    "ok": f'url = "{web.url("/ok")}"',
                    "tls_ok": f'url = "{tls_web.url("/ok")}"\nverify = false',
                    "tls_bad": f'url = "{tls_web.url("/ok")}"',
                    "plain_tls": f'url = "{tls_web.url("/ok").replace("https://", "http://")}"',
                    "tls_plain_silent": f'url = "{silent.url("/ok", "https")}"',
                    "hole": f'url = "{hole.url()}"\ntimeout = "500ms"',
                    "drip": f'url = "{drip.url()}"\ntimeout = "500ms"',
                }
            )
        )
        result = project.run("check", env={"PYTHONDEVMODE": "1"})
    assert result.code == 1
    # Development mode also logs slow loop callbacks ("Executing <Task…> took 0.1 seconds"),
    # which a loaded machine produces: not a leak. Anything else on stderr is.
    problems = [line for line in result.stderr.splitlines() if not line.startswith("Executing <")]
    assert problems == []


def test_wait_sees_a_server_that_comes_up_late(project: Project) -> None:
    port = free_port()
    project.checks(toml_checks({"late": f'url = "http://127.0.0.1:{port}/ok"'}))
    started = time.monotonic()
    proc = subprocess.Popen(
        [envdoctor_executable(), "check", "--wait", "20s", "--format", "json"],
        cwd=project.root,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        with http_fake.web(port=port):
            up = time.monotonic()
            out, err = proc.communicate(timeout=30)
            seen = time.monotonic() - up
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, out + err
    (check,) = json.loads(out)["checks"]
    assert check["status"] == "pass"
    assert seen < 0.8  # re-checked at most 250 ms apart, plus the process exit
    assert time.monotonic() - started < 10


# -- start-up and configuration ------------------------------------------------------------


def _imports_httpx(project: Project, *args: str) -> bool:
    """Whether `python -X importtime -m envdoctor ARGS` imports httpx (or any part of it: the
    http kind imports it on a thread, whose lines importtime interleaves)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "envdoctor", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode in (0, 1), proc.stderr
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return any(name == "httpx" or name.startswith("httpx.") for name in names)


def test_httpx_is_imported_only_by_http_checks(project: Project, web: Web) -> None:
    assert not _imports_httpx(project, "--version")
    project.checks('[[check]]\nid = "f"\nkind = "file"\npath = "checks"\n')
    assert not _imports_httpx(project, "check")
    project.checks(toml_checks({"ok": f'url = "{web.url("/ok")}"'}))
    assert not _imports_httpx(project, "list")  # loading an http check is not running it
    assert _imports_httpx(project, "check")  # the measure sees it when it is there


def test_configuration_errors(project: Project) -> None:
    bad = {
        "scheme": 'url = "ftp://example.com/"',
        "nohost": 'url = "http:///path"',
        "port": 'url = "http://localhost:99999/"',
        "head": 'url = "http://localhost/"\nmethod = "HEAD"\ncontains = "x"',
        "status": 'url = "http://localhost/"\nexpect_status = [200, 42]',
        "header": 'url = "http://localhost/"\nheaders = { "Bad Name" = "x" }',
        "newline": 'url = "http://localhost/"\nheaders = { X-Token = "a\\nb" }',
        "method": 'url = "http://localhost/"\nmethod = "G T"',
        "verify": 'url = "http://localhost/"\nverify = "no"',
        "typo": 'ulr = "http://localhost/"',
    }
    project.checks(toml_checks(bad))
    result = project.run("check")
    assert result.code == 2
    lines = result.stderr
    for text in [
        "the URL scheme must be http:// or https:// (got ftp://)",
        "the URL names no host",
        "the URL's host or port is not valid",
        "option 'contains' needs a body, and HEAD answers have none",
        "option 'expect_status': a status must be from 100 to 599",
        "option 'headers': a header name is not valid",
        "option 'headers': the value of X-Token holds a line break",
        "an HTTP method such as GET, HEAD or POST",
        "option 'verify': expected true or false",
        "unknown option 'ulr' for kind http (did you mean 'url'?)",
    ]:
        assert text in lines, (text, lines)
    assert "checks/envdoctor.toml:" in lines


def test_a_bad_url_from_the_environment_is_not_echoed(project: Project) -> None:
    project.checks('[[check]]\nid = "api"\nkind = "http"\nurl = "${API_URL}"\n')
    secret = "ftp://user:canary-pw-1234@host/"
    result = project.run("check", "--format", "json", env={"API_URL": secret})
    (check,) = result.json()["checks"]
    assert check["status"] == "error"
    assert "the URL scheme must be http:// or https://" in check["message"]
    assert "canary-pw-1234" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("url", "url_sent", "shown", "port"),
    [
        ("http://localhost:8000/health", "http://localhost:8000/health", None, 8000),
        ("https://api.example.com", "https://api.example.com/", None, 443),
        ("HTTP://h/x?y=1#frag", "http://h/x?y=1", None, 80),
        ("http://u:p%40ss@h:81/", "http://h:81/", "http://u:***@h:81/", 81),
        ("http://tok@[::1]:81/a", "http://[::1]:81/a", "http://***@[::1]:81/a", 81),
    ],
)
def test_parse_http_url(url: str, url_sent: str, shown: str | None, port: int) -> None:
    target = parse_http_url(url)
    assert target.url == url_sent
    assert target.shown == (shown or url_sent)
    assert target.port == port
    if "p%40ss" in url:
        assert (target.user, target.password) == ("u", "p@ss")


@pytest.mark.parametrize("url", ["localhost:80", "http://", "http://h:0/", "http://h:x/", "a b"])
def test_parse_http_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        parse_http_url(url)
    ((option, message),) = KIND.validate({"url": url})
    assert option == "url"
    assert message.startswith("option 'url': ")


def _me() -> str:
    """How psutil names this test process as a port's holder: `python3 (pid 123)`."""
    import psutil

    return f"{psutil.Process().name()} (pid {os.getpid()})"

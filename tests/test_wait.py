"""`check --wait`: re-run what has not passed until it does (exit 0) or time runs out (exit 3).

Real listeners that appear while envdoctor waits, through the installed console script.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

from tests.conftest import closed_port

from envdoctor.model import CheckSpec, Result, Severity, Status
from envdoctor.score import judge, not_good_enough

SERVICE = """
[[check]]
id = "svc"
kind = "tcp"
host = "127.0.0.1"
port = {port}
"""


def listen_later(port: int, delay: float, hold: float = 5.0) -> threading.Thread:
    """Starts listening on `port` after `delay` seconds, for `hold` seconds."""

    def work() -> None:
        time.sleep(delay)
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(16)
            time.sleep(hold)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_a_service_that_comes_up_late_is_seen_and_the_run_is_ready(project: Any) -> None:
    port = closed_port()
    project.checks(SERVICE.format(port=port))
    listen_later(port, 0.8)
    result = project.run("check", "--wait", "10s", "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    report = result.json()  # exactly one JSON document, the final one
    assert report["ready"] is True
    assert report["wait"] == {"limit_s": 10.0, "expired": False}
    (check,) = report["checks"]
    assert check["status"] == "pass"
    assert check["attempts"] >= 3  # re-tried at least every 0.25 s while it refused
    assert report["duration_ms"] < 5000  # stopped as soon as it passed, not at the limit


def test_time_running_out_is_exit_3_with_the_last_report(project: Any) -> None:
    port = closed_port()
    project.checks(SERVICE.format(port=port))
    started = time.monotonic()
    result = project.run("check", "--wait", "600ms")
    took = time.monotonic() - started
    assert result.code == 3, result.stdout + result.stderr
    assert f"refused at 127.0.0.1:{port}" in result.stdout
    assert "still not ready after waiting 600 ms" in result.stdout
    assert result.stdout.count("envdoctor 0.") == 1  # one report, not one per attempt
    assert took < 5


def test_json_when_time_runs_out(project: Any) -> None:
    project.checks(SERVICE.format(port=closed_port()))
    result = project.run("check", "--wait", "300ms", "--format", "json")
    assert result.code == 3
    report = json.loads(result.stdout)
    assert report["wait"] == {"limit_s": 0.3, "expired": True}
    assert report["ready"] is False
    assert report["checks"][0]["attempts"] >= 2
    assert "still not ready after waiting 300 ms" in report["reasons"]


def test_a_dependent_check_runs_once_its_dependency_passes(project: Any) -> None:
    port = closed_port()
    project.checks(
        SERVICE.format(port=port)
        + f'\n[[check]]\nid = "after"\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n'
        'depends_on = ["svc"]\n'
    )
    listen_later(port, 0.5)
    result = project.run("check", "--wait", "10s", "--format", "json")
    assert result.code == 0, result.stdout
    statuses = {c["id"]: c["status"] for c in result.json()["checks"]}
    assert statuses == {"svc": "pass", "after": "pass"}


def test_optional_failures_do_not_hold_the_wait(project: Any) -> None:
    port = closed_port()
    project.checks(
        SERVICE.format(port=port)
        + f'\n[[check]]\nid = "extra"\nkind = "tcp"\nhost = "127.0.0.1"\nport = {closed_port()}\n'
        'severity = "optional"\n'
    )
    listen_later(port, 0.3)
    started = time.monotonic()
    result = project.run("check", "--wait", "20s", "--format", "json")
    assert result.code == 0, result.stdout
    assert time.monotonic() - started < 10  # did not wait the 20 s for the optional one
    statuses = {c["id"]: c["status"] for c in result.json()["checks"]}
    assert statuses == {"svc": "pass", "extra": "fail"}


def test_no_attempt_outlives_the_wait(project: Any, full_backlog_port: int) -> None:
    """A check with a 30 s timeout against a port whose connects hang still ends when the wait
    does."""
    project.checks(SERVICE.format(port=full_backlog_port) + 'timeout = "30s"\n')
    started = time.monotonic()
    result = project.run("check", "--wait", "1s", "--format", "json")
    took = time.monotonic() - started
    assert result.code == 3, result.stdout
    assert took < 8
    assert "timed out" in result.json()["checks"][0]["message"]


def test_bad_wait_value_is_a_usage_error(project: Any) -> None:
    project.checks(SERVICE.format(port=closed_port()))
    result = project.run("check", "--wait", "soon")
    assert result.code == 2
    assert result.stderr.startswith("envdoctor: --wait: ")
    assert "Traceback" not in result.stderr


def test_without_wait_a_failure_is_exit_1(project: Any) -> None:
    project.checks(SERVICE.format(port=closed_port()))
    assert project.run("check").code == 1


def spec(severity: Severity = Severity.REQUIRED) -> CheckSpec:
    return CheckSpec(id="x", kind="tcp", source=None, severity=severity)  # type: ignore[arg-type]


def test_what_wait_keeps_trying() -> None:
    keep, strict = not_good_enough(False), not_good_enough(True)
    req, opt = spec(), spec(Severity.OPTIONAL)
    assert keep(Result(req, "S", Status.FAIL, "")) and keep(Result(req, "S", Status.BLOCKED, ""))
    assert not keep(Result(req, "S", Status.WARN, "")) and not keep(
        Result(opt, "S", Status.FAIL, "")
    )
    assert strict(Result(req, "S", Status.WARN, "")) and strict(Result(opt, "S", Status.FAIL, ""))
    assert not strict(Result(req, "S", Status.PASS, ""))


def test_gave_up_reason_only_when_not_ready() -> None:
    ok = [Result(spec(), "S", Status.PASS, "")]
    bad = [Result(spec(), "S", Status.FAIL, "")]
    assert judge(ok, gave_up_after="5 s").reasons == []
    assert judge(bad, gave_up_after="5 s").reasons[-1] == "still not ready after waiting 5 s"


def test_interrupting_a_wait_does_not_claim_the_wait_ran_out(project: Any) -> None:
    import signal
    import subprocess

    from tests.conftest import clean_env, envdoctor_executable

    project.checks(SERVICE.format(port=closed_port()))
    proc = subprocess.Popen(
        [envdoctor_executable(), "check", "--wait", "30s", "--format", "json"],
        cwd=project.root, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 130
    report = json.loads(out)
    assert report["interrupted"] is True
    assert not any("after waiting" in reason for reason in report["reasons"])

"""`postgres` end to end: the real CLI against real PostgreSQL 15 clusters.

URLs come from `${DATABASE_URL}` as in projects. Every test that puts a password in a URL runs
`secret_free`: the console report, the JSON report, `-v` and `explain` (stdout and stderr)
must not hold the password in any spelling.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Project
from tests.kinds._helpers import assert_hidden, one_check, run_all
from tests.servers.postgres import PASSWORDS, PgCluster


def one(project: Project, url: str, extra: str = "") -> tuple[int, dict[str, Any]]:
    """A project whose one check `db` reads its URL from DATABASE_URL."""
    body = f'url = "${{DATABASE_URL}}"\n{extra}'
    return one_check(project, "db", "postgres", body, env={"DATABASE_URL": url})


def secret_free(project: Project, env: dict[str, str], explain: list[str], *secrets: str) -> str:
    """No secret in the console report, `-v` or `explain` of each id in `explain` (stdout and
    stderr, any spelling); returns the `explain` outputs for more assertions."""
    runs = [("check",), ("check", "-v"), *(("explain", check_id) for check_id in explain)]
    outputs = run_all(project, runs, env)
    assert_hidden(outputs, secrets)
    return "\n".join(result.stdout for result in outputs[2:])


def test_trust_passes_naming_the_auth(project: Project, pg_server: PgCluster) -> None:
    code, found = one(project, pg_server.url("trust_user"))
    assert code == 0
    assert found["status"] == "pass"
    assert found["message"].startswith("PostgreSQL 15.")
    assert (
        f"accepting connections (auth: trust, TLS) at 127.0.0.1:{pg_server.port} in "
        in (found["message"])
    )


def test_passwords_are_used_and_never_shown(project: Project, pg_server: PgCluster) -> None:
    wrong = "wrong-pg-c4n4ry-Zq8"
    env = {
        "SCRAM_URL": pg_server.url("scram_user", PASSWORDS["scram_user"]),
        "MD5_URL": pg_server.url("md5_user", PASSWORDS["md5_user"]),
        "CLEAR_URL": pg_server.url("clear_user", PASSWORDS["clear_user"]),
        "DATABASE_URL": pg_server.url("scram_user", wrong),
    }
    project.checks(
        "".join(
            f'[[check]]\nid = "{check_id}"\nkind = "postgres"\nurl = "${{{variable}}}"\n\n'
            for check_id, variable in [
                ("scram", "SCRAM_URL"),
                ("md5", "MD5_URL"),
                ("clear", "CLEAR_URL"),
                ("wrong", "DATABASE_URL"),
            ]
        )
    )
    result = project.run("check", "--format", "json", env=env)
    assert result.code == 1, result.stderr
    by_id = {c["id"]: c for c in result.json()["checks"]}
    assert "accepting connections (auth: SCRAM-SHA-256, TLS)" in by_id["scram"]["message"]
    assert "accepting connections (auth: MD5, TLS)" in by_id["md5"]["message"]
    assert "(auth: password (cleartext), TLS)" in by_id["clear"]["message"]
    assert [by_id[i]["status"] for i in ("scram", "md5", "clear")] == ["pass"] * 3
    assert by_id["wrong"]["status"] == "fail"
    assert by_id["wrong"]["message"] == (
        f"PostgreSQL at 127.0.0.1:{pg_server.port} rejected the credentials: password "
        'authentication failed for user "scram_user" (SQLSTATE 28P01)'
    )
    assert by_id["wrong"]["fix"] == (
        "check the user and password in the URL (they are never shown here)"
    )
    secrets = (wrong, *(PASSWORDS[u] for u in ("scram_user", "md5_user", "clear_user")))
    for secret in secrets:
        assert secret not in result.stdout + result.stderr
    explained = secret_free(project, env, ["scram", "wrong"], *secrets)
    assert "SCRAM server signature verified" in explained
    assert "sent SCRAM client-final message with the proof (not shown)" in explained
    assert "ErrorResponse FATAL 28P01" in explained


def test_no_password_is_a_warning(project: Project, pg_server: PgCluster) -> None:
    code, found = one(project, pg_server.url("scram_user"))
    assert code == 0  # a warning does not make the project not ready
    assert found["status"] == "warn"
    assert found["message"] == (
        f"PostgreSQL is up at 127.0.0.1:{pg_server.port} but needs credentials the URL does "
        'not carry: user "scram_user" must authenticate with SCRAM-SHA-256, and the URL has '
        "no password"
    )
    # (The redactor masks the placeholder PASSWORD too: "USER:***@", a core quirk.)
    assert found["fix"].startswith("put the credentials in the URL: postgresql://USER:")
    assert found["fix"].endswith(f"@127.0.0.1:{pg_server.port}/appdb")


def test_missing_database_and_role_get_the_command_that_fixes_them(
    project: Project, pg_server: PgCluster
) -> None:
    port = pg_server.port
    project.checks(
        f'[[check]]\nid = "nodb"\nkind = "postgres"\n'
        f'url = "{pg_server.url("trust_user", database="shop test")}"\n\n'
        f'[[check]]\nid = "norole"\nkind = "postgres"\nurl = "{pg_server.url("ghost")}"\n\n'
        f'[[check]]\nid = "tlsonly"\nkind = "postgres"\n'
        f'url = "{pg_server.url("ssl_user", database="postgres", sslmode="disable")}"\n'
    )
    result = project.run("check", "--format", "json")
    assert result.code == 1, result.stderr
    by_id = {c["id"]: c for c in result.json()["checks"]}
    assert by_id["nodb"]["message"] == (
        f'PostgreSQL is up at 127.0.0.1:{port} but refuses this login: database "shop test" '
        "does not exist (SQLSTATE 3D000)"
    )
    assert by_id["nodb"]["fix"] == (
        f"createdb -h 127.0.0.1 -p {port} -U postgres --owner trust_user 'shop test'"
    )
    assert by_id["norole"]["message"].endswith('role "ghost" does not exist (SQLSTATE 28000)')
    assert by_id["norole"]["fix"] == f"createuser -h 127.0.0.1 -p {port} -U postgres --login ghost"
    assert "no pg_hba.conf entry" in by_id["tlsonly"]["message"]
    assert by_id["tlsonly"]["fix"] == (
        "add to pg_hba.conf: host postgres ssl_user 127.0.0.1/32 scram-sha-256 "
        "(then reload: SELECT pg_reload_conf())"
    )


def test_standby_is_not_ready(project: Project, pg_standby: PgCluster) -> None:
    code, found = one(project, pg_standby.url())
    assert code == 1
    assert found["status"] == "fail"
    assert found["message"].startswith(
        f"PostgreSQL at 127.0.0.1:{pg_standby.port} is not ready: a standby, or a server in "
        "archive recovery, that does not accept connections (hot_standby = off)"
    )
    # Waiting would not help: this standby stays closed until someone changes it.
    assert found["fix"] == (
        "point the URL at the primary, or set hot_standby = on on this server (a server in "
        "archive recovery accepts connections once recovery ends)"
    )


def test_the_printed_fixes_really_fix_it(project: Project, pg_server: PgCluster) -> None:
    """Copy-paste the fixes for a missing role and a missing database; the check passes."""
    import shlex
    import subprocess

    for url in (pg_server.url("newcomer", database="appdb"), pg_server.url(database="fresh_db")):
        code, found = one(project, url)
        assert code == 1 and found["fix"].startswith(("createuser ", "createdb ")), found
        subprocess.run(shlex.split(found["fix"]), check=True, timeout=30, capture_output=True)
        code, found = one(project, url)
        assert code == 0, found
        assert found["status"] == "pass"


def test_sslmode_require_against_ssl_off(project: Project, pg_nossl: PgCluster) -> None:
    code, found = one(project, pg_nossl.url("postgres", sslmode="require"))
    assert code == 1
    assert found["message"] == (
        f"PostgreSQL is up at 127.0.0.1:{pg_nossl.port} but refuses this login: the server "
        "does not offer TLS (it answered N to SSLRequest; sslmode=require requires TLS)"
    )
    assert found["fix"] == (
        "turn TLS on in the server (ssl = on, with a certificate), or use sslmode=prefer in the URL"
    )


def test_verify_full_and_verify_false(project: Project, pg_server: PgCluster) -> None:
    url = pg_server.url("trust_user", sslmode="verify-full")
    project.checks(
        f'[[check]]\nid = "strict"\nkind = "postgres"\nurl = "{url}"\n\n'
        f'[[check]]\nid = "lax"\nkind = "postgres"\nurl = "{url}"\nverify = false\n'
    )
    result = project.run("check", "--format", "json")
    assert result.code == 1, result.stderr
    by_id = {c["id"]: c for c in result.json()["checks"]}
    assert by_id["strict"]["status"] == "fail"
    assert by_id["strict"]["message"] == (
        f"TLS failed with 127.0.0.1:{pg_server.port}: self-signed certificate"
    )
    assert by_id["lax"]["status"] == "pass"
    assert "(auth: trust, TLS)" in by_id["lax"]["message"]


def test_an_unknown_sslmode_is_a_configuration_error(project: Project) -> None:
    project.checks(
        '[[check]]\nid = "db"\nkind = "postgres"\n'
        'url = "postgresql://app@127.0.0.1:5432/app?sslmode=required"\n'
    )
    result = project.run("check")
    assert result.code == 2
    assert "the URL's sslmode must be one of disable, allow, prefer, require, verify-ca, " in (
        result.stderr + result.stdout
    )

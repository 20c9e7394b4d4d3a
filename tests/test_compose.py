"""envdoctor.compose: which compose service publishes a refused port, read as `docker compose`
reads its files (default names, override merge, `.env` interpolation, every port syntax), and
never an exception from whatever a compose file holds."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import CORPUS, corpus_files

from envdoctor.compose import (
    MAX_BYTES,
    ComposeError,
    ComposeModel,
    ComposePublisher,
    PortMapping,
    compose_files,
    find_publisher,
    interpolate,
    load,
    merge_document,
    other_compose_files,
    parse_port,
    parse_yaml,
)
from envdoctor.errors import ProjectFileError

COMPOSE_FILES = corpus_files("**/*compose*.y*ml")


def rel(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory; no COMPOSE_FILE or test variables leak in from outside."""
    for name in ("COMPOSE_FILE", "COMPOSE_PATH_SEPARATOR", "PG_PORT", "ED_HOST_PORT"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    return root


def corpus_project(tmp_path: Path, repo: str) -> Path:
    """A copy of one corpus repository: its parents (tmp) hold no compose file of their own."""
    target = tmp_path / repo
    shutil.copytree(CORPUS / repo, target)
    return target


def mapping(service: str, entry: Any, variables: dict[str, str] | None = None) -> PortMapping:
    (found,) = parse_port(service, entry, variables or {})
    return found


# -- the shared corpus ------------------------------------------------------------------


def test_the_corpus_has_compose_files() -> None:
    assert len(COMPOSE_FILES) >= 17


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=[rel(p) for p in COMPOSE_FILES])
def test_every_corpus_compose_file_loads(path: Path) -> None:
    model = load([path], {})
    assert isinstance(model, ComposeModel)
    assert model.files == (path,)
    for service in model.services.values():
        for port in service.ports:
            assert port.service == service.name
            assert port.protocol in ("tcp", "udp")
            if port.published is not None:
                assert 1 <= port.published[0] <= port.published[1] <= 65535


@pytest.mark.parametrize(
    ("path", "service", "published", "target", "host_ip", "protocol"),
    [
        ("pypa__warehouse/docker-compose.yml", "db", 5433, "5432", "", "tcp"),
        ("pypa__warehouse/docker-compose.yml", "vault", 8200, "8200", "", "tcp"),
        ("pypa__warehouse/docker-compose.yml", "web", 80, "8000", "", "tcp"),
        ("pypa__warehouse/docker-compose.yml", "notdatadog", 8125, "8125", "", "udp"),
        ("PostHog__posthog/docker-compose.base.yml", "temporal", 7233, "7233", "", "tcp"),
        ("PostHog__posthog/docker-compose.base.yml", "temporal-ui", 8081, "8080", "", "tcp"),
        # "$SENTRY_BIND:80/tcp" with SENTRY_BIND=9000 from the .env beside the file
        ("getsentry__self-hosted/docker-compose.yml", "nginx", 9000, "80", "", "tcp"),
        ("langfuse__langfuse/docker-compose.yml", "postgres", 5432, "5432", "127.0.0.1", "tcp"),
        ("langfuse__langfuse/docker-compose.yml", "redis", 6379, "6379", "127.0.0.1", "tcp"),
        ("langfuse__langfuse/docker-compose.yml", "minio", 9090, "9000", "", "tcp"),
        ("langfuse__langfuse/docker-compose.yml", "langfuse-web", 3000, "3000", "", "tcp"),
        # ${HOST_IP:-127.0.0.1}:${POSTGRES_HOST_PORT:-5432}:5432
        ("langfuse__langfuse/docker-compose.dev.yml", "postgres", 5432, "5432", "127.0.0.1", "tcp"),
        ("langfuse__langfuse/docker-compose.dev.yml", "floci", 4566, "4566", "127.0.0.1", "tcp"),
        ("langfuse__langfuse/docker-compose.build.yml", "redis", 6379, "6379", "", "tcp"),
        ("langfuse__langfuse/docker-compose.dev-azure.yml", "azurite", 10000, "10000", "", "tcp"),
        ("langgenius__dify/docker/docker-compose.qdrant.yaml", "qdrant", 6333, "6333", "", "tcp"),
        (
            "langgenius__dify/docker/docker-compose.milvus.yaml",
            "milvus-standalone",
            19530,
            "19530",
            "",
            "tcp",
        ),
        ("saleor__saleor/.devcontainer/docker-compose.yml", "db", 5432, "5432", "", "tcp"),
        ("saleor__saleor/.devcontainer/docker-compose.yml", "mailpit", 1025, "1025", "", "tcp"),
        ("fastapi__full-stack-fastapi-template/compose.override.yml", "db", 5432, "5432", "", "tcp"),
        (
            "fastapi__full-stack-fastapi-template/compose.override.yml",
            "playwright",
            9323,  # written `- 9323:9323`, unquoted
            "9323",
            "",
            "tcp",
        ),
        ("zulip__docker-zulip/docker-compose.yml", "zulip", 443, "443", "", "tcp"),
    ],
)
def test_known_published_ports_of_the_corpus(
    path: str, service: str, published: int, target: str, host_ip: str, protocol: str
) -> None:
    model = load([CORPUS / path], {})
    expected = PortMapping(service, (published, published), target, host_ip, protocol)
    assert expected in model.services[service].ports


def test_top_level_keys_and_extensions_are_not_legacy_services() -> None:
    model = ComposeModel((Path("compose.yaml"),))
    document = {
        "x-db": {"image": "postgres", "ports": ["5432:5432"]},
        "volumes": {"image": "not a service"},
    }
    merge_document(model, Path("compose.yaml"), document, {})
    assert not model.legacy and model.services == {}


def test_container_only_ports_of_the_corpus_publish_nothing() -> None:
    model = load([CORPUS / "saleor__saleor/.worktree-container/docker-compose.yml"], {})
    assert [p.target for p in model.services["db"].ports] == ["5432"]
    assert all(p.published is None for s in model.services.values() for p in s.ports)
    assert model.publisher(5432) is None


def test_legacy_format_one_file_of_the_corpus() -> None:
    model = load([CORPUS / "zulip__docker-zulip/docker-compose.yml"], {})
    assert model.legacy
    assert set(model.services) == {"database", "memcache", "rabbitmq", "camo", "zulip", "redis"}


@pytest.mark.parametrize(
    ("repo", "port", "command"),
    [
        # compose.yml merged with compose.override.yml: only the override publishes db's port
        ("fastapi__full-stack-fastapi-template", 5432, "docker compose up -d db"),
        ("fastapi__full-stack-fastapi-template", 8090, "docker compose up -d proxy"),
        ("fastapi__full-stack-fastapi-template", 1025, "docker compose up -d mailpit"),
        # compose.deploy.yml publishes 443 but is an overlay without an image: no fix from it
        ("fastapi__full-stack-fastapi-template", 443, None),
        ("langfuse__langfuse", 5432, "docker compose up -d postgres"),
        ("langfuse__langfuse", 4566, "docker compose -f docker-compose.dev.yml up -d floci"),
        ("getsentry__self-hosted", 9000, "docker compose up -d nginx"),
        ("pypa__warehouse", 5433, "docker compose up -d db"),
        ("pypa__warehouse", 5432, None),  # the container's port, not the host's
        ("pypa__warehouse", 8125, None),  # udp
        ("saleor__saleor", 5432, "docker compose -f .devcontainer/docker-compose.yml up -d db"),
        ("saleor__saleor", 6379, "docker compose -f .devcontainer/docker-compose.yml up -d cache"),
        ("langgenius__dify", 6333, "docker compose -f docker/docker-compose.qdrant.yaml up -d qdrant"),
        ("zulip__docker-zulip", 443, "docker-compose up -d zulip"),
        ("PostHog__posthog", 7233, "docker compose -f docker-compose.base.yml up -d temporal"),
    ],
)
def test_find_publisher_in_corpus_projects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: str, port: int, command: str | None
) -> None:
    for name in ("COMPOSE_FILE", "SENTRY_BIND", "POSTGRES_HOST_PORT", "HOST_IP"):
        monkeypatch.delenv(name, raising=False)
    found = find_publisher(corpus_project(tmp_path, repo), port)
    assert (found.up_command() if found else None) == command


def test_process_environment_wins_over_the_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = corpus_project(tmp_path, "getsentry__self-hosted")
    monkeypatch.setenv("SENTRY_BIND", "127.0.0.1:9100")
    found = find_publisher(root, 9100)
    assert found is not None and found.service == "nginx"
    assert found.mapping == PortMapping("nginx", (9100, 9100), "80", "127.0.0.1", "tcp")
    assert find_publisher(root, 9000) is None


# -- short syntax -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "published", "target", "host_ip", "protocol"),
    [
        ("5432:5432", (5432, 5432), "5432", "", "tcp"),
        ("5433:5432", (5433, 5433), "5432", "", "tcp"),
        ("127.0.0.1:5433:5432", (5433, 5433), "5432", "127.0.0.1", "tcp"),
        ("5432:5432/tcp", (5432, 5432), "5432", "", "tcp"),
        ("5432:5432/TCP", (5432, 5432), "5432", "", "tcp"),
        ("5353:53/udp", (5353, 5353), "53", "", "udp"),
        ("8000-8010:8000-8010", (8000, 8010), "8000-8010", "", "tcp"),
        ("9090-9091:8080", (9090, 9091), "8080", "", "tcp"),
        ("[::1]:5432:5432", (5432, 5432), "5432", "::1", "tcp"),
        ("::1:5432:5432", (5432, 5432), "5432", "::1", "tcp"),
        ("0.0.0.0:80:80/tcp", (80, 80), "80", "0.0.0.0", "tcp"),
        (" 6379:6379 ", (6379, 6379), "6379", "", "tcp"),
        # a random host port: nothing we can name
        ("5432", None, "5432", "", "tcp"),
        (5432, None, "5432", "", "tcp"),
        ("127.0.0.1::5432", None, "5432", "127.0.0.1", "tcp"),
        ("0:5432", None, "5432", "", "tcp"),
        ("8000-8010", None, "8000-8010", "", "tcp"),
    ],
)
def test_short_syntax(
    entry: Any, published: tuple[int, int] | None, target: str, host_ip: str, protocol: str
) -> None:
    assert mapping("db", entry) == PortMapping("db", published, target, host_ip, protocol)


@pytest.mark.parametrize(
    "entry",
    ["", "abc", "5432:abc", "abc:5432", "99999:5432", "5432:99999", "10-5:10-5", "-1:5432",
     "1.5:5432", None, True, 1.5, ["5432:5432"], "${UNTERMINATED:5432"],
)  # fmt: skip
def test_short_syntax_that_compose_refuses_publishes_nothing(entry: Any) -> None:
    assert parse_port("db", entry, {}) == []


def test_published_port_matching() -> None:
    ranged = mapping("web", "8000-8010:8000-8010")
    assert ranged.publishes(8000) and ranged.publishes(8005) and ranged.publishes(8010)
    assert not ranged.publishes(7999) and not ranged.publishes(8011)
    assert not mapping("dns", "53:53/udp").publishes(53)
    assert mapping("dns", "53:53/udp").publishes(53, "udp")
    assert not mapping("db", "5432").publishes(5432)


@pytest.mark.parametrize(
    ("variables", "published"),
    [
        ({}, (5432, 5432)),
        ({"PG_PORT": ""}, (5432, 5432)),
        ({"PG_PORT": "5544"}, (5544, 5544)),
    ],
)
def test_short_syntax_with_a_default(variables: dict[str, str], published: tuple[int, int]) -> None:
    found = mapping("db", "${PG_PORT:-5432}:5432", variables)
    assert found.published == published


def test_short_syntax_variables_everywhere() -> None:
    variables = {"IP": "127.0.0.2", "HOST_PORT": "6380", "PROTO": "tcp"}
    found = mapping("cache", "${IP}:$HOST_PORT:6379/${PROTO}", variables)
    assert found == PortMapping("cache", (6380, 6380), "6379", "127.0.0.2", "tcp")
    # unset -> empty: the whole host part goes, as compose would read it
    assert mapping("cache", "${NOPE}:6379") == PortMapping("cache", None, "6379", "", "tcp")


# -- long syntax --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"target": 5432, "published": 5433}, PortMapping("db", (5433, 5433), "5432")),
        ({"target": 5432, "published": "5433"}, PortMapping("db", (5433, 5433), "5432")),
        ({"target": "5432", "published": "8000-8010"}, PortMapping("db", (8000, 8010), "5432")),
        (
            {"target": 5432, "published": 5433, "host_ip": "127.0.0.1", "protocol": "tcp"},
            PortMapping("db", (5433, 5433), "5432", "127.0.0.1", "tcp"),
        ),
        (
            {"target": 53, "published": 5353, "protocol": "udp", "mode": "host"},
            PortMapping("db", (5353, 5353), "53", "", "udp"),
        ),
        ({"target": 5432}, PortMapping("db", None, "5432")),
        (
            {"target": 5432, "published": "${ED_HOST_PORT:-7000}", "host_ip": "${NOPE:-::1}"},
            PortMapping("db", (7000, 7000), "5432", "::1"),
        ),
    ],
)
def test_long_syntax(entry: dict[str, Any], expected: PortMapping) -> None:
    assert parse_port("db", entry, {}) == [expected]


@pytest.mark.parametrize(
    "entry",
    [{}, {"published": 5432}, {"target": "x"}, {"target": [5432]}, {"target": 5432, "published": {}},
     {"target": 5432, "published": "nope"}, {"target": True}, {"target": 5432, "published": 70000},
     {"target": 5432, "protocol": ["tcp"]}],
)  # fmt: skip
def test_long_syntax_that_compose_refuses_publishes_nothing(entry: dict[str, Any]) -> None:
    assert parse_port("db", entry, {}) == []


def test_long_syntax_udp_is_not_a_tcp_publisher(proj: Path) -> None:
    write(
        proj,
        "compose.yaml",
        "services:\n  dns:\n    image: coredns\n    ports:\n"
        "      - target: 53\n        published: 5353\n        protocol: udp\n",
    )
    assert find_publisher(proj, 5353) is None
    found = find_publisher(proj, 5353, "udp")
    assert found is not None and found.up_command() == "docker compose up -d dns"


# -- YAML as compose reads it -------------------------------------------------------------


def test_unquoted_base_60_looking_ports_stay_strings(proj: Path) -> None:
    # YAML 1.1 (PyYAML) reads 22:22 as 1342; compose (YAML 1.2) reads the string "22:22".
    write(proj, "compose.yaml", "services:\n  ssh:\n    image: sshd\n    ports:\n      - 22:22\n")
    assert parse_yaml(b"- 22:22\n- 1:30:00\n") == ["22:22", "1:30:00"]
    found = find_publisher(proj, 22)
    assert found is not None and found.service == "ssh"


def test_anchors_and_merge_keys(proj: Path) -> None:
    write(
        proj,
        "compose.yaml",
        """\
x-db: &db
  image: postgres:16
  ports: ["${PG_PORT:-5432}:5432"]
services:
  db:
    <<: *db
  replica:
    <<: *db
    ports: &replica-ports
      - 5433:5432
  other:
    image: postgres:16
    ports: *replica-ports
""",
    )
    model = load(compose_files(proj, {}), {})
    assert [p.published for p in model.services["db"].ports] == [(5432, 5432)]
    assert [p.published for p in model.services["replica"].ports] == [(5433, 5433)]
    found = find_publisher(proj, 5432)
    assert found is not None and found.service == "db"
    found = find_publisher(proj, 5433)
    assert found is not None and found.service == "replica"


def test_a_second_document_is_ignored() -> None:
    assert parse_yaml(b"services: {}\n---\nnot: [valid\n") == {"services": {}}


def test_unknown_tags_are_read_as_plain_values() -> None:
    document = parse_yaml(b"services:\n  db: !custom\n    image: x\n    ports: !seq ['1:1']\n")
    assert document == {"services": {"db": {"image": "x", "ports": ["1:1"]}}}


# -- which files ---------------------------------------------------------------------------


def test_default_file_names_in_compose_order(proj: Path) -> None:
    assert compose_files(proj, {}) == ()
    write(proj, "docker-compose.yaml", "services: {}\n")
    assert compose_files(proj, {}) == (proj / "docker-compose.yaml",)
    write(proj, "docker-compose.yml", "services: {}\n")
    assert compose_files(proj, {}) == (proj / "docker-compose.yml",)
    write(proj, "compose.yml", "services: {}\n")
    assert compose_files(proj, {}) == (proj / "compose.yml",)
    write(proj, "compose.yaml", "services: {}\n")
    assert compose_files(proj, {}) == (proj / "compose.yaml",)
    write(proj, "docker-compose.override.yml", "services: {}\n")
    write(proj, "compose.override.yaml", "services: {}\n")
    assert compose_files(proj, {}) == (proj / "compose.yaml", proj / "compose.override.yaml")
    write(proj, "compose.override.yml", "services: {}\n")
    assert compose_files(proj, {}) == (proj / "compose.yaml", proj / "compose.override.yml")


def test_an_override_alone_is_not_loaded(proj: Path) -> None:
    write(proj, "compose.override.yaml", "services:\n  db:\n    image: pg\n    ports: ['5432:5432']\n")
    assert compose_files(proj, {}) == ()
    assert other_compose_files(proj) == []
    assert find_publisher(proj, 5432) is None


def test_compose_file_from_the_environment_and_the_dotenv(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(proj, "compose.yaml", "services:\n  a:\n    image: x\n")
    write(proj, "ci/stack.yml", "services:\n  db:\n    image: pg\n    ports: ['5432:5432']\n")
    write(proj, "ci/more.yml", "services:\n  cache:\n    image: redis\n    ports: ['6379:6379']\n")
    write(proj, ".env", "COMPOSE_FILE=ci/stack.yml:ci/more.yml\n")
    assert compose_files(proj, {}) == (proj / "ci/stack.yml", proj / "ci/more.yml")
    found = find_publisher(proj, 6379)
    # docker compose reads COMPOSE_FILE itself: no -f needed
    assert found is not None and found.up_command() == "docker compose up -d cache"
    monkeypatch.setenv("COMPOSE_FILE", "compose.yaml")
    assert compose_files(proj) == (proj / "compose.yaml",)


def test_parent_directories_as_compose_walks_them(proj: Path) -> None:
    write(proj, "compose.yaml", "services:\n  db:\n    image: pg\n    ports: ['5432:5432']\n")
    sub = proj / "services" / "api"
    sub.mkdir(parents=True)
    found = find_publisher(sub, 5432)
    assert found is not None
    assert found.file == proj / "compose.yaml"
    assert found.up_command() == "docker compose up -d db"


def test_other_compose_files_need_dash_f(proj: Path) -> None:
    write(proj, "compose.yaml", "services:\n  app:\n    image: app\n    ports: ['8000:8000']\n")
    write(proj, "docker-compose.yml", "services:\n  old:\n    image: pg\n    ports: ['5431:5432']\n")
    write(proj, "compose.dev.yaml", "services:\n  db:\n    image: pg\n    ports: ['5432:5432']\n")
    write(proj, "deploy/my stack/compose.yaml", "services: {}\n")  # two levels down: not read
    write(
        proj,
        "infra dir/docker-compose.yml",
        "services:\n  cache:\n    image: redis\n    ports: ['6379:6379']\n",
    )
    write(proj, "node_modules/x/docker-compose.yml", "services: {q: {image: q, ports: ['1:1']}}\n")
    assert find_publisher(proj, 8000).up_command() == "docker compose up -d app"  # type: ignore[union-attr]
    # docker compose picks compose.yaml over docker-compose.yml: the latter needs -f
    assert find_publisher(proj, 5431).up_command() == (  # type: ignore[union-attr]
        "docker compose -f docker-compose.yml up -d old"
    )
    assert find_publisher(proj, 5432).up_command() == (  # type: ignore[union-attr]
        "docker compose -f compose.dev.yaml up -d db"
    )
    assert find_publisher(proj, 6379).up_command() == (  # type: ignore[union-attr]
        "docker compose -f 'infra dir/docker-compose.yml' up -d cache"
    )
    assert find_publisher(proj, 1) is None


def test_up_command_quotes_and_falls_back_to_the_path() -> None:
    outside = ComposePublisher(Path("/elsewhere/c.yml"), "db", False, Path("/proj"))
    assert outside.up_command() == "docker compose -f /elsewhere/c.yml up -d db"
    odd = ComposePublisher(Path("/proj/compose.yaml"), "my db", True, Path("/proj"))
    assert odd.up_command() == "docker compose up -d 'my db'"
    legacy = ComposePublisher(Path("/proj/x.yml"), "db", False, Path("/proj"), legacy=True)
    assert legacy.up_command() == "docker-compose -f x.yml up -d db"


# -- override merge -------------------------------------------------------------------------


def test_override_adds_ports_to_a_base_service(proj: Path) -> None:
    write(proj, "compose.yaml", "services:\n  db:\n    image: postgres:16\n")
    write(proj, "compose.override.yaml", "services:\n  db:\n    ports: ['5432:5432']\n")
    found = find_publisher(proj, 5432)
    assert found is not None
    assert (found.service, found.file, found.default_file) == ("db", proj / "compose.yaml", True)
    assert found.up_command() == "docker compose up -d db"


def test_override_ports_add_up(proj: Path) -> None:
    write(proj, "compose.yaml", "services:\n  db:\n    image: pg\n    ports: ['5432:5432']\n")
    write(proj, "docker-compose.override.yml", "services:\n  db:\n    ports: ['5433:5432']\n")
    model = load(compose_files(proj, {}), {})
    assert [p.published for p in model.services["db"].ports] == [(5432, 5432), (5433, 5433)]


def test_override_reset_and_override_tags(proj: Path) -> None:
    write(
        proj,
        "compose.yaml",
        "services:\n  db:\n    image: pg\n    ports: ['5432:5432']\n"
        "  cache:\n    image: redis\n    ports: ['6379:6379']\n"
        "  gone:\n    image: x\n    ports: ['7000:7000']\n",
    )
    write(
        proj,
        "compose.override.yaml",
        "services:\n  db:\n    ports: !reset []\n"
        "  cache:\n    ports: !override ['6380:6379']\n"
        "  gone: !reset\n",
    )
    assert find_publisher(proj, 5432) is None
    assert find_publisher(proj, 6379) is None
    assert find_publisher(proj, 6380).service == "cache"  # type: ignore[union-attr]
    assert find_publisher(proj, 7000) is None


def test_override_defines_a_new_service(proj: Path) -> None:
    write(proj, "compose.yaml", "services:\n  app:\n    image: app\n")
    write(
        proj,
        "compose.override.yml",
        "services:\n  mailpit:\n    image: axllent/mailpit\n    ports: ['1025:1025']\n",
    )
    assert find_publisher(proj, 1025).up_command() == "docker compose up -d mailpit"  # type: ignore[union-attr]


# -- .env interpolation -----------------------------------------------------------------------


def test_dotenv_interpolation(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(proj, "compose.yaml", "services:\n  db:\n    image: pg\n    ports: ['${PG_PORT:-5432}:5432']\n")
    assert find_publisher(proj, 5432).service == "db"  # type: ignore[union-attr]
    write(proj, ".env", "BASE=55\nPG_PORT=${BASE}44\n")
    assert find_publisher(proj, 5432) is None
    assert find_publisher(proj, 5544).service == "db"  # type: ignore[union-attr]
    monkeypatch.setenv("PG_PORT", "6543")  # the environment wins over .env, as in compose
    assert find_publisher(proj, 5544) is None
    assert find_publisher(proj, 6543).service == "db"  # type: ignore[union-attr]


def test_dotenv_beside_a_subdirectory_file(proj: Path) -> None:
    write(proj, "docker/compose.yaml", "services:\n  db:\n    image: pg\n    ports: ['$PORT:5432']\n")
    write(proj, "docker/.env", "PORT=5999\n")
    found = find_publisher(proj, 5999)
    assert found is not None
    assert found.up_command() == "docker compose -f docker/compose.yaml up -d db"


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("plain", {}, "plain"),
        ("${A}", {"A": "1"}, "1"),
        ("${A}", {}, ""),
        ("$A:$B", {"A": "1", "B": "2"}, "1:2"),
        ("${A:-d}", {}, "d"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A:-d}", {"A": "v"}, "v"),
        ("${A-d}", {}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A:-${B:-x}}", {}, "x"),
        ("${A:-${B}y}", {"B": "b"}, "by"),
        ("${A:+alt}", {"A": "v"}, "alt"),
        ("${A:+alt}", {"A": ""}, ""),
        ("${A+alt}", {"A": ""}, "alt"),
        ("${A:?required}", {"A": "v"}, "v"),
        ("${A:?required}", {}, ""),
        ("$$A", {"A": "1"}, "$A"),
        ("a$${b}", {}, "a${b}"),
    ],
)
def test_interpolate(text: str, variables: dict[str, str], expected: str) -> None:
    assert interpolate(text, variables) == expected


@pytest.mark.parametrize("text", ["${", "${A", "${A:-x", "${1A}", "${A!}", "$", "a $ b", "${}"])
def test_interpolate_rejects_malformed_references_without_values(text: str) -> None:
    canary = "canary-value-8d1f"
    with pytest.raises(ValueError) as caught:
        interpolate(text, {"A": canary})
    assert canary not in str(caught.value)


# -- garbage never raises ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"services: [\n", 2),
        (b"services:\n  db:\n    image: [\n", 4),
        (b"services:\n\tdb: {}\n", 2),
        (b"a: b: c\n", 1),
        (b"services: {}\nservices: {}\n", None),  # PyYAML allows it; not an error here
        (b"- 1\n- 2\n", 1),
        (b"just a string\n", 1),
        (b"services: 42\n", 1),
        (b"services:\n  - db\n", 2),
        (b"", None),
        (b"\xff\xfe\x00garbage\x00", None),
        (b"services: !!python/object:os.system {}\n", 1),
        (b"x: &a [*a]\nservices: {}\n", None),
        (b"[" * 5000, None),
    ],
)
def test_garbage_is_no_hint(proj: Path, content: bytes, line: int | None) -> None:
    path = proj / "compose.yaml"
    path.write_bytes(content)
    assert find_publisher(proj, 5432) is None
    try:
        load([path], {})
    except ComposeError as exc:
        assert isinstance(exc, ProjectFileError)
        assert exc.source is not None and exc.source.path == str(path)
        if line is not None:
            assert exc.source.line == line, str(exc)
        assert "Traceback" not in str(exc)


def test_a_syntax_error_has_file_and_line(proj: Path) -> None:
    path = write(proj, "compose.yaml", "services:\n  db:\n    image: pg\n    ports: [5432\n")
    with pytest.raises(ComposeError) as caught:
        load([path], {})
    assert str(caught.value).startswith(f"{path}:")
    assert caught.value.source is not None and caught.value.source.line == 5


@pytest.mark.parametrize(
    "services",
    [
        "db: 5",
        "db: [a, b]",
        "db:\n    ports: 5432",
        "db:\n    ports: {a: 1}",
        "db:\n    ports: [null, true, 1.5, [1], {target: [1]}, {target: {a: 1}}, '${', 5432]",
        "? [a]\n  : b",
        "1: {image: x, ports: ['5432:5432']}",
        "true: {image: x, ports: ['5433:5432']}",
    ],
)
def test_odd_services_and_ports_are_no_hint(proj: Path, services: str) -> None:
    write(proj, "compose.yaml", "services:\n  " + services + "\n")
    assert find_publisher(proj, 5433) is None
    found = find_publisher(proj, 5432)
    # only the `1:` service is a real (if odd) publisher of 5432
    assert found is None or found.service == "1"


def test_huge_files_are_not_read(proj: Path) -> None:
    path = proj / "compose.yaml"
    body = "services:\n  db:\n    image: pg\n    ports: ['5432:5432']\n"
    path.write_text(body + "# " + "x" * MAX_BYTES + "\n", encoding="utf-8")
    started = time.monotonic()
    assert find_publisher(proj, 5432) is None
    assert time.monotonic() - started < 1.0
    with pytest.raises(ComposeError, match="KiB"):
        load([path], {})


def test_a_large_real_file_reads_fast(proj: Path) -> None:
    services = "".join(
        f"  svc{i}:\n    image: app\n    ports:\n      - '127.0.0.1:{10000 + i}:80'\n"
        for i in range(3000)
    )
    write(proj, "compose.yaml", "services:\n" + services)
    assert (proj / "compose.yaml").stat().st_size < MAX_BYTES
    started = time.monotonic()
    found = find_publisher(proj, 12999)
    assert time.monotonic() - started < 2.0
    assert found is not None and found.service == "svc2999"


def test_a_compose_file_that_is_a_directory_or_unreadable(proj: Path) -> None:
    (proj / "compose.yaml").mkdir()
    assert compose_files(proj, {}) == ()
    write(proj, "compose.yml", "services:\n  db:\n    image: pg\n    ports: ['5432:5432']\n")
    assert find_publisher(proj, 5432).service == "db"  # type: ignore[union-attr]
    assert find_publisher(proj / "missing", 5432) is not None  # walks up, like compose
    with pytest.raises(ComposeError, match="cannot read"):
        load([proj / "nope.yaml"], {})


# -- hypothesis: whatever the bytes, never an exception --------------------------------------


FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises(text: str) -> None:
    try:
        parse_yaml(text.encode("utf-8", "surrogatepass"))
    except ComposeError as exc:
        assert exc.source is not None and exc.source.path == "compose.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "compose.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        result = find_publisher(Path(tmp), 5432)
        assert result is None or isinstance(result, ComposePublisher)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    try:
        parse_yaml(raw)
    except ComposeError as exc:
        assert exc.source is not None and exc.source.path == "compose.yaml"


PORTISH = st.text(alphabet="0123456789:-/[]tcpudTCP.${}_AZ: ", max_size=30)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    PORTISH,
)
KEYS = st.one_of(
    st.sampled_from(["services", "ports", "image", "build", "target", "published", "host_ip",
                     "protocol", "version", "db", "<<"]),
    st.text(max_size=8),
    st.integers(min_value=0, max_value=70000),
)  # fmt: skip
STRUCTURES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=40,
)


@settings(FUZZ, max_examples=100)
@given(STRUCTURES, st.integers(min_value=1, max_value=65535))
def test_arbitrary_structures_never_raise(document: Any, port: int) -> None:
    model = ComposeModel((Path("compose.yaml"),))
    for candidate in (document, {"services": document}, {"services": {"db": document}},
                      {"services": {"db": {"image": "x", "ports": document}}}):  # fmt: skip
        try:
            merge_document(model, Path("compose.yaml"), candidate, {"A": "1"})
        except ComposeError:
            continue
    found = model.publisher(port)
    assert found is None or found[1].publishes(port)
    text = yaml.safe_dump({"services": {"db": {"image": "x", "ports": document}}})
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "compose.yaml").write_text(text, encoding="utf-8")
        result = find_publisher(Path(tmp), port)
        assert result is None or result.service == "db"


@FUZZ
@given(st.one_of(PORTISH, st.text(max_size=40)), st.dictionaries(st.sampled_from("AB"), PORTISH))
def test_arbitrary_port_entries_never_raise(entry: str, variables: dict[str, str]) -> None:
    for found in parse_port("db", entry, variables):
        assert found.service == "db"
        if found.published is not None:
            assert 1 <= found.published[0] <= found.published[1] <= 65535


@FUZZ
@given(st.text(alphabet="${}:-+?AB_x1 ", max_size=40))
def test_interpolate_returns_text_or_value_error(text: str) -> None:
    try:
        result = interpolate(text, {"A": "secret-a", "B": ""})
    except ValueError as exc:
        assert "secret-a" not in str(exc)
    else:
        assert isinstance(result, str)

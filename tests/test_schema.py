"""`envdoctor schema`: valid JSON Schema, generated from the same options the loader validates.

`jsonschema` is not a dependency, so a minimal validator lives here (type, enum, const,
pattern, minimum/maximum, minItems, items, properties, required, additionalProperties, anyOf,
oneOf, local $ref). A walk over the schema first proves it uses no keyword beyond those, so the
small validator really checks everything the schema says. Then real check modules are validated
against it, and the loader and the schema are asked the same questions and must agree.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import REPO, Project, run_cli

from envdoctor.kinds import KINDS, get_kind
from envdoctor.options import COMMON_OPTIONS, SETTINGS_OPTIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

try:  # not a dependency: used as a second opinion when it happens to be installed
    import jsonschema
except ImportError:
    jsonschema = None

ANNOTATIONS = {"$schema", "$id", "title", "description", "default", "$defs"}
ASSERTIONS = {
    "type",
    "enum",
    "const",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "minLength",
    "items",
    "properties",
    "required",
    "additionalProperties",
    "anyOf",
    "oneOf",
    "$ref",
}
JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = run_cli("schema", cwd=tmp_path_factory.mktemp("schema"))
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)  # type: ignore[no-any-return]


# -- the minimal validator ----------------------------------------------------------------


def _type_ok(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(
        value,
        {"string": str, "boolean": bool, "array": list, "object": dict, "null": type(None)}[name],
    )


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    assert ref.startswith("#/"), ref
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any], at: str = "$") -> list[str]:
    """Every way `value` breaks `schema` (empty when it conforms)."""
    if "$ref" in schema:
        return validate(value, _resolve(schema["$ref"], root), root, at)
    errors: list[str] = []
    if "type" in schema and not _type_ok(value, schema["type"]):
        return [f"{at}: expected {schema['type']}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{at}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: {value!r} not in {schema['enum']}")
    if "minLength" in schema and isinstance(value, str) and len(value) < schema["minLength"]:
        errors.append(f"{at}: shorter than {schema['minLength']} characters")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{at}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{at}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{at}: {value} > {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{at}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(item, schema["items"], root, f"{at}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        errors += [f"{at}: missing {key!r}" for key in required if key not in value]
        for key, item in value.items():
            if key in properties:
                errors += validate(item, properties[key], root, f"{at}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{at}: unexpected {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(item, schema["additionalProperties"], root, f"{at}.{key}")
    if "anyOf" in schema and all(validate(value, s, root, at) for s in schema["anyOf"]):
        errors.append(f"{at}: matches none of anyOf")
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if not validate(value, s, root, at)]
        if len(matching) != 1:
            errors.append(f"{at}: matches {len(matching)} of oneOf, not exactly 1")
    return errors


def walk(node: Any, at: str = "$") -> list[tuple[str, dict[str, Any]]]:
    """Every subschema with where it is."""
    if not isinstance(node, dict):
        return []
    found = [(at, node)]
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            found += walk(node[key], f"{at}.{key}")
    for key in ("properties", "$defs"):
        for name, sub in node.get(key, {}).items():
            found += walk(sub, f"{at}.{key}.{name}")
    for key in ("anyOf", "oneOf"):
        for i, sub in enumerate(node.get(key, [])):
            found += walk(sub, f"{at}.{key}[{i}]")
    return found


def test_the_validator_itself() -> None:
    """The checker must catch what it claims to, or every test below proves nothing."""
    root = {
        "$defs": {"n": {"type": "integer", "minimum": 1}},
        "type": "object",
        "required": ["a"],
        "additionalProperties": False,
        "properties": {
            "a": {"oneOf": [{"const": "x"}, {"enum": ["y", "z"]}]},
            "b": {"type": "array", "items": {"$ref": "#/$defs/n"}, "minItems": 1},
            "c": {"anyOf": [{"type": "string", "pattern": "^[0-9]+s$"}, {"type": "number"}]},
        },
    }
    assert validate({"a": "x", "b": [1, 2], "c": "5s"}, root, root) == []
    assert validate({"a": "z", "c": 2.5}, root, root) == []
    for bad in (
        {},  # required
        {"a": "w"},  # oneOf none
        {"a": "x", "d": 1},  # additionalProperties
        {"a": "x", "b": []},  # minItems
        {"a": "x", "b": [0]},  # $ref -> minimum
        {"a": "x", "b": [True]},  # a bool is not an integer
        {"a": "x", "c": "5m"},  # pattern
        {"a": "x", "c": [5]},  # anyOf none
        [],  # type
    ):
        assert validate(bad, root, root), bad


# -- the schema's shape -------------------------------------------------------------------


def test_schema_is_valid_json_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["check"] == {"type": "array", "items": {"$ref": "#/$defs/check"}}
    for at, node in walk(schema):
        unknown = set(node) - ANNOTATIONS - ASSERTIONS
        assert not unknown, f"{at} uses {unknown}: teach the validator in this file first"
        if "type" in node:
            assert node["type"] in JSON_TYPES, at
        if "$ref" in node:
            _resolve(node["$ref"], schema)
        if "pattern" in node:
            re.compile(node["pattern"])
        if "required" in node:
            assert set(node["required"]) <= set(node.get("properties", {})), at
    if jsonschema is not None:
        jsonschema.Draft202012Validator.check_schema(schema)


def test_one_check_schema_per_kind(schema: dict[str, Any]) -> None:
    variants = schema["$defs"]["check"]["oneOf"]
    kinds = [v["properties"]["kind"]["const"] for v in variants]
    assert sorted(kinds) == sorted(KINDS)
    common = {o.name for o in COMMON_OPTIONS}
    for variant in variants:
        kind = get_kind(variant["properties"]["kind"]["const"])
        own = [o.name for o in kind.options]
        assert variant["type"] == "object"
        assert variant["additionalProperties"] is False
        assert set(variant["properties"]) == common | set(own), kind.name
        assert set(variant["required"]) == {"id", "kind"} | {
            o.name for o in kind.options if o.required
        }
        for name, prop in variant["properties"].items():
            assert prop.get("description"), (kind.name, name)
        for option in kind.options:
            if option.default is not None:
                assert variant["properties"][option.name]["default"] == option.default


def test_common_options_in_the_schema(schema: dict[str, Any]) -> None:
    file_check = next(
        v for v in schema["$defs"]["check"]["oneOf"] if v["properties"]["kind"]["const"] == "file"
    )
    props = file_check["properties"]
    assert props["severity"]["enum"] == ["required", "optional"]
    weight = typed(props["weight"])
    assert weight["type"] == "number" and weight["minimum"] == 0
    assert props["id"]["type"] == "string" and "pattern" in props["id"]
    assert props["path"]["type"] == "string"
    assert typed(props["exists"])["type"] == "boolean"


def typed(prop: dict[str, Any]) -> dict[str, Any]:
    """The typed branch of an option that may also be a "${VAR}" string (DESIGN.md §3)."""
    if "anyOf" not in prop:
        return prop
    branches = [b for b in prop["anyOf"] if b.get("pattern") != r"\$\{"]
    assert len(branches) == 1 and len(prop["anyOf"]) == 2, prop
    return branches[0]


def test_settings_schema(schema: dict[str, Any]) -> None:
    settings = schema["$defs"]["settings"]
    assert settings["additionalProperties"] is False
    assert set(settings["properties"]) == {o.name for o in SETTINGS_OPTIONS} | {"check"}
    assert settings["properties"]["check"]["items"] == {"$ref": "#/$defs/check"}
    min_score = typed(settings["properties"]["min_score"])
    assert (min_score["type"], min_score["minimum"], min_score["maximum"]) == ("integer", 0, 100)


# -- real modules against the schema ------------------------------------------------------

REAL_MODULE = """
# What a project would commit: every common option, both kinds used in these tests.
[[check]]
id = "python"
title = "Python for the tests"
kind = "python"
version = ">=3.10,<4"
implementation = "CPython"
virtualenv = true
severity = "required"
weight = 2.5
tags = ["python", "core"]
timeout = "1m30s"
when = 'sys_platform != "nonexistent"'
fix = "uv venv"

[[check]]
id = "readme"
kind = "file"
path = "${DOCS_DIR:-docs}/README.md"
exists = true
depends_on = ["python"]
tags = "docs"
timeout = 2.5

[[check]]
id = "no-stale-build"
kind = "file"
path = "build"
exists = false
severity = "optional"
skip = "until the cleanup lands"
"""


def test_a_real_module_validates_and_loads(project: Project, schema: dict[str, Any]) -> None:
    module = project.checks(REAL_MODULE)
    data = tomllib.loads(module.read_text(encoding="utf-8"))
    assert validate(data, schema, schema) == []
    if jsonschema is not None:
        jsonschema.validate(data, schema)
    listed = project.run("list")
    assert listed.code == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == [
        "python",
        "readme",
        "no-stale-build",
    ]


def test_this_repositorys_own_checks_validate(schema: dict[str, Any]) -> None:
    modules = sorted((REPO / "checks").glob("*.toml"))
    assert modules, "the repository checks itself (checks/*.toml)"
    for module in modules:
        data = tomllib.loads(module.read_text(encoding="utf-8"))
        assert validate(data, schema, schema) == [], module
    listed = run_cli("list", "--project", str(REPO), cwd=REPO)
    assert listed.code == 0, listed.stderr


def test_pyproject_settings_validate(schema: dict[str, Any]) -> None:
    table = tomllib.loads(
        '[tool.envdoctor]\ninclude = ["checks/*.toml", "ops/*.toml"]\ntimeout = "5s"\n'
        'min_score = 80\ndotenv = ".env"\n\n[[tool.envdoctor.check]]\nid = "py"\n'
        'kind = "python"\n'
    )["tool"]["envdoctor"]
    settings = schema["$defs"]["settings"]
    assert validate(table, settings, schema) == []
    assert validate({**table, "min_score": 101}, settings, schema)
    assert validate({**table, "incldue": []}, settings, schema)


# -- the loader and the schema agree ------------------------------------------------------

BASE = '[[check]]\nid = "a"\nkind = "file"\npath = "x"\n'

AGREEMENT = [
    ("minimal", BASE, True),
    ("python-minimal", '[[check]]\nid = "py"\nkind = "python"\n', True),
    ("duration-forms", BASE + 'timeout = "1m30s"\n', True),
    ("duration-number", BASE + "timeout = 0.25\n", True),
    ("tags-one-string", BASE + 'tags = "docs"\n', True),
    ("interpolated-string", BASE.replace('"x"', '"${HOME:-x}/y"'), True),
    ("id-with-dots", BASE.replace('"a"', '"svc.db:main-1"'), True),
    ("unknown-option", BASE + 'pth = "x"\n', False),
    ("option-of-another-kind", BASE + 'version = ">=3"\n', False),
    ("wrong-type", BASE.replace('"x"', "3"), False),
    ("bad-enum", BASE + 'severity = "critical"\n', False),
    ("negative-weight", BASE + "weight = -1\n", False),
    ("bad-duration", BASE + 'timeout = "soon"\n', False),
    ("missing-id", BASE.replace('id = "a"\n', ""), False),
    ("missing-kind", BASE.replace('kind = "file"\n', ""), False),
    ("missing-required-option", BASE.replace('path = "x"\n', ""), False),
    ("unknown-kind", BASE.replace('"file"', '"nosuch"'), False),
    ("bad-id", BASE.replace('"a"', '"a b"'), False),
    ("table-not-array", BASE.replace("[[check]]", "[check]"), False),
    ("unknown-top-level", BASE + "\n[settings]\nx = 1\n", False),
    ("list-of-non-strings", BASE + "tags = [1]\n", False),
]

DRIFT = [
    pytest.param(
        "duration-upper-case",
        BASE + 'timeout = "500MS"\n',
        id="duration-upper-case",
    ),
    pytest.param(
        "interpolated-number",
        BASE + 'weight = "${ENVDOCTOR_TEST_WEIGHT:-2}"\n',
        id="interpolated-number",
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "accepted"),
    [pytest.param(*case, id=case[0]) for case in AGREEMENT],
)
def test_loader_and_schema_agree(
    project: Project, schema: dict[str, Any], name: str, text: str, accepted: bool
) -> None:
    module = project.checks(text)
    data = tomllib.loads(module.read_text(encoding="utf-8"))
    errors = validate(data, schema, schema)
    listed = project.run("list")
    assert listed.code == (0 if accepted else 2), listed.stderr
    assert (errors == []) is accepted, errors


@pytest.mark.parametrize(("name", "text"), DRIFT)
def test_schema_accepts_what_the_loader_accepts(
    project: Project, schema: dict[str, Any], name: str, text: str
) -> None:
    module = project.checks(text)
    listed = project.run("list")
    assert listed.code == 0, listed.stderr
    data = tomllib.loads(module.read_text(encoding="utf-8"))
    assert validate(data, schema, schema) == []


def test_schema_writes_nothing(tmp_path: Path) -> None:
    result = run_cli("schema", cwd=tmp_path)
    assert result.code == 0
    assert list(tmp_path.iterdir()) == []
    assert result.stdout.endswith("}\n")

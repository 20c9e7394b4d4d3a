"""Import name -> distribution: the table, Requires-Dist lines, installed claims, and guesses."""

from __future__ import annotations

import pytest

from envdoctor.pkgs.names import (
    IMPORT_TO_DIST,
    added_to_stdlib,
    canonical,
    import_name_for,
    missing_shared_library,
    provider_for,
    removed_from_stdlib,
    requirement_name,
    table_dist,
    top_level,
)


@pytest.mark.parametrize(
    ("module", "dist"),
    [
        ("yaml", "PyYAML"),
        ("cv2", "opencv-python"),
        ("PIL", "Pillow"),
        ("PIL.Image", "Pillow"),
        ("sklearn", "scikit-learn"),
        ("sklearn.linear_model", "scikit-learn"),
        ("bs4", "beautifulsoup4"),
        ("jwt", "PyJWT"),
        ("dotenv", "python-dotenv"),
        ("dateutil.parser", "python-dateutil"),
        ("google.protobuf", "protobuf"),
        ("google.protobuf.json_format", "protobuf"),
        ("attr", "attrs"),
        ("magic", "python-magic"),
        ("serial", "pyserial"),
        ("usb", "pyusb"),
        ("OpenSSL", "pyOpenSSL"),
        ("Crypto.Cipher", "pycryptodome"),
        ("docx", "python-docx"),
        ("pptx", "python-pptx"),
        ("jose", "python-jose"),
        ("ldap", "python-ldap"),
        ("MySQLdb", "mysqlclient"),
        ("git", "GitPython"),
        ("github", "PyGithub"),
        ("zmq", "pyzmq"),
        ("gi", "PyGObject"),
        ("Levenshtein", "python-Levenshtein"),
        ("skimage", "scikit-image"),
        ("fitz", "PyMuPDF"),
    ],
)
def test_table_names_the_distribution(module: str, dist: str) -> None:
    assert table_dist(module) == dist
    provider = provider_for(module)
    assert (provider.dist, provider.source) == (dist, "table")


def test_table_is_big_enough_and_holds_only_names_a_guess_would_get_wrong() -> None:
    assert len(IMPORT_TO_DIST) >= 40
    for module, dist in IMPORT_TO_DIST.items():
        # the guess for an unknown name is its top-level name
        assert canonical(top_level(module)) != canonical(dist), (module, dist)


def test_a_shared_namespace_alone_is_not_guessed_from_one_of_its_members() -> None:
    assert table_dist("google") is None
    assert table_dist("google.cloud.storage.blob") == "google-cloud-storage"


def test_psycopg2_names_both_distributions() -> None:
    provider = provider_for("psycopg2")
    assert provider.display == "psycopg2 (or psycopg2-binary)"
    assert provider.dist == "psycopg2-binary"


def test_unknown_name_is_a_guess_of_its_top_level() -> None:
    provider = provider_for("frobnicate.sub")
    assert (provider.dist, provider.display) == ("frobnicate", "frobnicate")
    assert provider.source == "guess"


def test_requires_dist_line_wins_and_keeps_its_specifier() -> None:
    requires = [
        "types-python-dateutil>=2.8.10",
        "python-dateutil>=2.7.0",
        "doc8 ; extra == 'doc'",
    ]
    provider = provider_for("dateutil", requires=requires, required_by="arrow")
    assert provider.source == "requirement"
    assert provider.dist == "python-dateutil>=2.7.0"
    assert provider.display == "python-dateutil"
    assert provider.required_by == "arrow"


def test_requires_dist_matches_a_same_named_dependency_and_drops_markers_and_parens() -> None:
    requires = ["wcwidth (<0.3) ; python_version >= '3'", "six"]
    provider = provider_for("wcwidth", requires=requires, required_by="prompt-toolkit")
    assert provider.dist == "wcwidth<0.3"
    provider = provider_for("Six", requires=requires)
    assert provider.dist == "six"


def test_requires_dist_with_a_url_installs_by_name() -> None:
    provider = provider_for("yaml", requires=["PyYAML @ https://example.invalid/PyYAML.whl"])
    assert provider.dist == "PyYAML"


def test_an_installed_claim_means_reinstall_for_a_top_level_name() -> None:
    provider = provider_for("six", claims=["six"])
    assert provider.reinstall
    assert provider.dist == "six"
    assert not provider_for("six").reinstall


def test_for_a_dotted_name_the_table_beats_a_claim_on_the_shared_top_level() -> None:
    provider = provider_for("google.protobuf", claims=["googleapis-common-protos"])
    assert (provider.dist, provider.source) == ("protobuf", "table")


def test_import_name_for_a_distribution_name() -> None:
    assert import_name_for("scikit-learn") == "sklearn"
    assert import_name_for("PyYAML") == "yaml"
    assert import_name_for("pyyaml") == "yaml"
    assert import_name_for("beautifulsoup4") == "bs4"
    assert import_name_for("requests") is None


def test_requirement_name() -> None:
    assert requirement_name("PyYAML>=5.1 ; extra == 'x'") == "PyYAML"
    assert requirement_name("zope.interface (>=5)") == "zope.interface"
    assert requirement_name("  ") == ""


def test_removed_from_the_standard_library_depends_on_the_target_version() -> None:
    assert removed_from_stdlib("distutils.core", (3, 12, 1)) == ("3.12", "setuptools")
    assert removed_from_stdlib("distutils", (3, 11, 7)) is None
    assert removed_from_stdlib("imp", (3, 13, 0)) == ("3.12", None)
    assert removed_from_stdlib("cgi", (3, 12, 1)) is None
    assert removed_from_stdlib("yaml", (3, 13, 0)) is None
    assert removed_from_stdlib("distutils", None) is None


def test_added_to_the_standard_library_depends_on_the_target_version() -> None:
    assert added_to_stdlib("tomllib", (3, 10, 13)) == ("3.11", "tomli")
    assert added_to_stdlib("tomllib", (3, 11, 0)) is None
    assert added_to_stdlib("zoneinfo", (3, 8, 18)) == ("3.9", "backports.zoneinfo")
    assert added_to_stdlib("importlib.metadata", (3, 7, 0)) == ("3.8", "importlib_metadata")
    assert added_to_stdlib("importlib", (3, 7, 0)) is None
    assert added_to_stdlib("graphlib", None) is None
    assert added_to_stdlib("yaml", (3, 6, 0)) is None


def test_missing_shared_library_in_an_import_error() -> None:
    message = "libGL.so.1: cannot open shared object file: No such file or directory"
    assert missing_shared_library(message) == ("libGL.so.1", "libgl1")
    assert missing_shared_library("libfoo.so.3: cannot open shared object file") == (
        "libfoo.so.3",
        "",
    )
    assert missing_shared_library("cannot import name 'x' from 'y'") is None

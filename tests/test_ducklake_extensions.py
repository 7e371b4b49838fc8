"""DuckDB's extensions come from the installed wheels, never from the network."""

from __future__ import annotations

import duckdb
import pytest

from lake import ducklake
from lake.ducklake import EXTENSION_PACKAGES, MissingExtensionError, load_extensions


@pytest.mark.parametrize("name", sorted(EXTENSION_PACKAGES))
def test_every_extension_loads_from_its_wheel(name: str, tmp_path) -> None:
    con = duckdb.connect()
    # an empty extension directory: nothing installed there can stand in for the wheel
    con.execute(f"set extension_directory = '{tmp_path}'")
    load_extensions(con, [name])
    loaded = con.execute("select loaded from duckdb_extensions() where extension_name = ?",
                         [name]).fetchone()
    assert loaded == (True,)
    assert str(ducklake.extension_file(name)).endswith(
        f"v{duckdb.__version__}/{name}.duckdb_extension")
    assert not any(tmp_path.iterdir())


def test_an_extension_not_loaded_is_never_fetched() -> None:
    con = duckdb.connect()
    load_extensions(con, ["ducklake"])  # switches autoinstall and autoload off
    with pytest.raises(duckdb.Error):
        con.execute("select st_point(1, 2)")
    loaded = {r[0] for r in con.execute(
        "select extension_name from duckdb_extensions() where loaded").fetchall()}
    assert "spatial" not in loaded


def test_a_missing_wheel_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(EXTENSION_PACKAGES, "spatial", "duckdb_extension_spatial_missing")
    with pytest.raises(MissingExtensionError,
                       match=rf"install the PyPI package duckdb-extension-spatial-missing=="
                             rf"{duckdb.__version__}"):
        load_extensions(duckdb.connect(), ["spatial"])


def test_a_wheel_for_another_duckdb_says_which_it_has(tmp_path, monkeypatch) -> None:
    package = tmp_path / "duckdb_extension_fake"
    (package / "extensions" / "v0.9.0").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "extensions" / "v0.9.0" / "fake.duckdb_extension").write_bytes(b"x")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(EXTENSION_PACKAGES, "fake", "duckdb_extension_fake")
    with pytest.raises(MissingExtensionError, match=r"it has v0\.9\.0"):
        load_extensions(duckdb.connect(), ["fake"])


def test_without_any_aws_credentials_duckdb_tries_its_chain_then_says_what_to_set(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No keys, no profile, no role: DuckDB's own credential chain (the ``aws`` extension,
    from its wheel) finds none either, and the error says what to set, in one line."""
    import duckdb

    from lake.ducklake import load_extensions, reach_object_store
    from lake.object_store import ObjectStoreError

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    con = duckdb.connect()
    try:
        load_extensions(con, ["httpfs"])
        with pytest.raises(ObjectStoreError) as raised:
            reach_object_store(con)
        loaded = {name for (name,) in con.execute(
            "select extension_name from duckdb_extensions() where loaded").fetchall()}
    finally:
        con.close()
    message = str(raised.value)
    assert message.startswith("no AWS credentials for the object storage at "
                              "http://127.0.0.1:9: set AWS_ACCESS_KEY_ID"), message
    assert "\n" not in message
    assert "aws" in loaded

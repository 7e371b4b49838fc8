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

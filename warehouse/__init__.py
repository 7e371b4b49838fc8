"""The warehouse stage: core lake → DuckDB (`core` and `marts` schemas) → published file.

Steps, each usable on its own (the Airflow DAG runs them as tasks):

* ``warehouse.load.load_core``      core-lake Parquet files not loaded yet → ``core.*``
* ``warehouse.marts.build_marts``   recompute the marts around the new data only
* ``warehouse.checks.check_warehouse``  pandera models + reconciliation checks
* ``warehouse.publish.publish_warehouse``  atomic swap of ``DATA/warehouse.duckdb``

``warehouse.build.build_warehouse`` runs all four. The build works on a private file
(``DATA/state/warehouse/build.duckdb``) and never opens the published one for writing, so
analysts' read-only sessions neither block a build nor see a half-built state.
"""

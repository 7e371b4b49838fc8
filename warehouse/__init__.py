"""The warehouse stage: the core tables the transform stored → marts, checked, committed.

``warehouse.build.build_warehouse`` runs one build as one DuckLake transaction: the named
places (``warehouse.places``), the commands' status, the marts recomputed around the new
data (``warehouse.marts``), and the checks (``warehouse.checks``: pandera models and
reconciliations). Readers (``trackit sql``, reports, notebooks) see whole snapshots only.
"""

"""Airflow past ``dag.test()``: the three ways of docs/deploy.md, one command each.

``python -m trackit.deploy {laptop,server,celery}`` (``./run airflow ...``) runs Airflow
on this machine the way a laptop, one server or a many-machine CeleryExecutor setup does;
``local_servers`` starts the PostgreSQL and Redis that the Celery way needs on loopback.
"""

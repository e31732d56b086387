"""Pipeline stages of newsclean.

Each module holds one stage as plain functions over a batch (a pyarrow Table) that return the
new batch plus its edit records. Prefect wrappers live in :mod:`tasks.prefect_tasks` so that the
stages stay importable (and testable) without starting Prefect.
"""

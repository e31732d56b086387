"""Orchestration without Prefect: the chain declaration, the runner that applies stages to
batches, the steps of a run and the driver that walks them, the worker pool, the report.

Workers import only this layer and below, never Prefect, so they start fast and start no
server; the Prefect tasks (:mod:`newsclean.tasks.prefect_tasks`) wrap :mod:`.steps`.
"""

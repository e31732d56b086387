"""The storage layer: everything that touches files. Raw input (ingest), the dataset layout,
atomic Parquet I/O, the journaled commit and recovery, schema migrations, the manifest, the
dedup index, the learned-boilerplate model's files, the writer lock. It never imports the
stages or anything above; what its tables mean is the data contract's
(:mod:`newsclean.tasks.schema`).
"""

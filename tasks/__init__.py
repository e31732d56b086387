"""newsclean's pipeline, in layers (docs/architecture.md); imports only point down:

    newsclean.cli, newsclean.serve, newsclean.inspect       the command line
    newsclean.flows                                          Prefect flows (composition only)
    newsclean.tasks.prefect_tasks                            Prefect tasks (thin wrappers)
    newsclean.tasks.pipeline                                 chain, runner, steps (no Prefect)
    newsclean.tasks.stages  |  newsclean.tasks.storage       pure stages | files on disk
    newsclean.tasks.schema, .rules, .settings, .urls         the data contract and rule data

``lint-imports`` (contracts in pyproject.toml) checks this on every test run.
"""

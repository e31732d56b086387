"""prefect.yaml stays in step with the flow it deploys."""

from __future__ import annotations

import inspect

import yaml

from tests.helpers import ROOT


def test_prefect_yaml_deploys_the_flow_with_valid_parameters() -> None:
    from newsclean.flows.clean_corpus import clean_corpus

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (deployment,) = config["deployments"]
    path, name = deployment["entrypoint"].split(":")
    assert (ROOT / path).is_file() and name == "clean_corpus"
    accepted = set(inspect.signature(clean_corpus.fn).parameters)
    assert set(deployment["parameters"]) <= accepted
    assert deployment["schedules"][0]["cron"] == "0 * * * *"
    assert deployment["work_pool"]["name"] == "newsclean-pool"

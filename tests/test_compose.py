"""compose.yaml runs the topology the suite tests (tests/topology.py): the same settings, the
index and migrations once in a one-shot service, a Chroma server matching the client."""

from pathlib import Path

import chromadb
import yaml

COMPOSE = yaml.safe_load((Path(__file__).resolve().parent.parent / "compose.yaml").read_text())


def test_replicas_share_the_tested_parts_and_prepare_once():
    services = COMPOSE["services"]
    app, prepare = services["app"], services["prepare"]
    assert app["deploy"]["replicas"] == 2
    assert app["environment"] == prepare["environment"]
    settings = app["environment"]
    assert settings["ALLHOURS_HUB"] == "redis"
    assert settings["ALLHOURS_PREPARE_ON_START"] == "false"
    assert {"ALLHOURS_DATABASE_URL", "ALLHOURS_REDIS_URL", "ALLHOURS_CHROMA_URL"} <= set(settings)
    assert prepare["command"] == ["allhours", "prepare"]
    assert app["depends_on"] == {"prepare": {"condition": "service_completed_successfully"}}
    assert services["chroma"]["image"] == f"chromadb/chroma:{chromadb.__version__}"

"""The FlinkDeployment example against the schema the Flink Kubernetes Operator publishes.

The operator's API jar on Maven Central carries the custom resource definition. The newest
there (1.10.0) predates Flink 2, so its ``flinkVersion`` list ends at ``v1_20``: that one
field is checked against the Flink 2 version names, everything else against the schema.
"""

from __future__ import annotations

import zipfile
from typing import Any

import jsonschema
import pytest
import yaml

from flink_agents.config import load_settings
from flink_agents.local import Artifact, fetch_artifacts
from flink_agents.versions import FLINK_VERSION
from tests.support import ROOT

pytestmark = pytest.mark.deploy
EXAMPLE = ROOT / "docker" / "kubernetes" / "flink-deployment.yaml"
OPERATOR_API = Artifact(
    group="org.apache.flink",
    artifact="flink-kubernetes-operator-api",
    version="1.10.0",
    sha256="b1f44814e17514fa8395c61b329a3ee9087123a5bda5b21fe1a495d5182c30b6",
    size=190877,
)
CRD = "META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    settings = load_settings()
    (jar,) = fetch_artifacts((OPERATOR_API,), settings.jar_cache / "schemas", settings.maven_url)
    with zipfile.ZipFile(jar) as archive:
        crd = yaml.safe_load(archive.read(CRD))
    (version,) = crd["spec"]["versions"]
    found: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    # Every resource has these; Kubernetes checks them, not the resource's own schema.
    found["properties"].update(
        apiVersion={"type": "string"}, kind={"type": "string"}, metadata={"type": "object"}
    )
    return found


def test_the_example_is_a_valid_flink_deployment(schema: dict[str, Any]):
    document = yaml.safe_load(EXAMPLE.read_text())
    assert document["apiVersion"] == "flink.apache.org/v1beta1"
    assert document["kind"] == "FlinkDeployment"
    flink_version = schema["properties"]["spec"]["properties"]["flinkVersion"]
    assert "v1_20" in flink_version.pop("enum")  # the schema's list, before Flink 2
    jsonschema.validate(document, strict(schema))


def test_a_misspelt_field_is_caught(schema: dict[str, Any]):
    document = yaml.safe_load(EXAMPLE.read_text())
    document["spec"]["taskManager"]["replica"] = document["spec"]["taskManager"].pop("replicas")
    with pytest.raises(jsonschema.ValidationError, match="replica"):
        jsonschema.validate(document, strict(schema))


def strict(node: Any) -> Any:
    """The schema as ``kubectl apply --validate=strict`` reads it: an object with listed
    properties takes no others, unless it says it keeps unknown fields."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items()}
    keeps = "additionalProperties" in node or node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in node and not keeps:
        out["additionalProperties"] = False
    return out


def test_the_example_names_the_flink_this_project_runs_on():
    spec = yaml.safe_load(EXAMPLE.read_text())["spec"]
    major, minor, _ = FLINK_VERSION.split(".")
    assert spec["flinkVersion"] == f"v{major}_{minor}"
    assert spec["flinkConfiguration"]["state.backend.type"] == "rocksdb"
    assert spec["taskManager"]["replicas"] == 2

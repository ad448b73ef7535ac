"""cluster.yaml (AWS) and cluster/gcp.yaml: Ray's own autoscaler schema accepts them, and they keep the
invariants the README promises: a head that runs no tasks, data workers that carry `data_node`, GPU
workers, only SSH reachable from outside, no credentials."""
from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path

import pytest
import yaml

from cluster.placement import DATA_RESOURCE, ENV, STABLE_RESOURCE

REPO = Path(__file__).resolve().parents[2]
CONFIGS = {"aws": REPO / "cluster.yaml", "gcp": REPO / "cluster" / "gcp.yaml"}
AWS_GPU_FAMILIES = ("g4dn", "g5", "g6", "g6e", "p3", "p4d", "p4de", "p5", "p5e")


def load(cloud: str) -> dict:
    return yaml.safe_load(CONFIGS[cloud].read_text())


def workers(config: dict) -> dict[str, dict]:
    return {k: v for k, v in config["available_node_types"].items() if k != config["head_node_type"]}


def is_gpu(cloud: str, node_type: dict) -> bool:
    if cloud == "aws":  # Ray reads GPU counts from the AWS instance type at `ray up`
        return node_type["node_config"]["InstanceType"].split(".")[0] in AWS_GPU_FAMILIES
    return node_type["resources"].get("GPU", 0) > 0


@pytest.mark.parametrize("cloud", CONFIGS)
def test_ray_validates_the_config(cloud):
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(load(cloud)))  # what `ray up` does before it talks to the cloud
    validate_config(prepared)  # Ray's ray-schema.json, and min_workers/max_workers consistency
    assert prepared["provider"]["type"] == cloud
    assert prepared["docker"]["image"] == "rayproject/ray:2.60.0-py311-gpu"


@pytest.mark.parametrize("cloud", CONFIGS)
def test_node_roles(cloud):
    config = load(cloud)
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"]["CPU"] == 0 and head["resources"][STABLE_RESOURCE] >= 1
    assert DATA_RESOURCE not in head["resources"]
    kinds = workers(config)
    data = {k for k, v in kinds.items() if DATA_RESOURCE in v["resources"]}
    gpu = {k for k, v in kinds.items() if is_gpu(cloud, v)}
    assert data and gpu and not data & gpu, "data_node goes on CPU workers only"
    for name in data | gpu:
        assert kinds[name]["min_workers"] == 0 < kinds[name]["max_workers"], f"{name}: scales from zero"
    assert any(not is_spot(cloud, kinds[k]) and STABLE_RESOURCE in kinds[k]["resources"] for k in gpu)
    assert all(is_spot(cloud, kinds[k]) for k in data), "data workers run on spot"
    assert all(not is_spot(cloud, v) for v in kinds.values() if STABLE_RESOURCE in v["resources"]), \
        "stable_node only on machines the cloud does not reclaim"
    assert sum(v["max_workers"] for v in kinds.values()) >= config["max_workers"] > 0
    assert config["idle_timeout_minutes"] > 0 and config["upscaling_speed"] > 0


def is_spot(cloud: str, node_type: dict) -> bool:
    nc = node_type["node_config"]
    if cloud == "aws":
        return nc.get("InstanceMarketOptions", {}).get("MarketType") == "spot"
    return bool(nc.get("scheduling", {}).get("preemptible"))


@pytest.mark.parametrize("cloud", CONFIGS)
def test_every_node_tells_placement_that_data_and_gpu_nodes_exist(cloud):
    """An autoscaling cluster with zero data (GPU) workers has no data_node (GPU) resource yet; the
    env vars are what make cluster/placement.py ask for one (see its docstring)."""
    options = load(cloud)["docker"]["run_options"]
    assert f"--env {ENV[DATA_RESOURCE]}=1" in options and f"--env {ENV['GPU']}=1" in options
    assert "--env RAY_AUTH_MODE=token" in options


@pytest.mark.parametrize("cloud", CONFIGS)
def test_dashboard_listens_on_loopback_only(cloud):
    config = load(cloud)
    start = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in start and "0.0.0.0" not in start
    assert "--head" in start and "--autoscaling-config=~/ray_bootstrap_config.yaml" in start


def test_aws_security_group_admits_only_ssh_from_outside():
    """Compute the inbound rules `ray up` will authorize with Ray's own function: the cluster's group
    may reach everything, anything else only TCP 22."""
    from ray.autoscaler._private.aws.config import _create_default_inbound_rules

    provider = load("aws")["provider"]
    assert provider["security_group"]["GroupName"]
    rules = _create_default_inbound_rules({"sg-cluster"}, provider["security_group"].get("IpPermissions", []))
    outside = [r for r in rules if r.get("IpRanges") or r.get("Ipv6Ranges") or r.get("PrefixListIds")]
    assert outside and all((r["IpProtocol"], r["FromPort"], r["ToPort"]) == ("tcp", 22, 22) for r in outside)
    inside = [r for r in rules if r not in outside]
    assert all({p["GroupId"] for p in r["UserIdGroupPairs"]} == {"sg-cluster"} for r in inside)
    for name, node_type in load("aws")["available_node_types"].items():
        assert "SecurityGroupIds" not in node_type["node_config"], f"{name} must use the cluster's group"


def test_gcp_firewall_admits_only_ssh_from_outside():
    """Ray's GCP provider makes no firewall; cluster/gcp-network.sh does, and every node uses its subnet."""
    script = (REPO / "cluster" / "gcp-network.sh").read_text().replace("\\\n", " ")
    rules = [shlex.split(line.split("firewall-rules create", 1)[1]) for line in script.splitlines()
             if "firewall-rules create" in line]
    assert len(rules) == 2
    for rule in rules:
        flags = dict(a[2:].split("=", 1) for a in rule[1:])
        assert flags["network"] == "raypretrain" and flags["direction"] == "INGRESS"
        assert flags["target-tags"] == "raypretrain"
        if "source-ranges" in flags:
            assert flags["allow"] == "tcp:22"
        else:
            assert flags["source-tags"] == "raypretrain"
    for name, node_type in load("gcp")["available_node_types"].items():
        nc = node_type["node_config"]
        assert [i["subnetwork"] for i in nc["networkInterfaces"]] == ["regions/us-central1/subnetworks/raypretrain"]
        assert "raypretrain" in nc["tags"]["items"], name


SECRET_PATTERNS = [r"AKIA[0-9A-Z]{16}", r"aws_secret_access_key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
                   r"RAY_AUTH_TOKEN=", r"[0-9a-f]{40,}", r"ghp_[A-Za-z0-9]{20,}", r"\"private_key\""]


@pytest.mark.parametrize("path", [CONFIGS["aws"], CONFIGS["gcp"], REPO / "cluster" / "gcp-network.sh"],
                         ids=lambda p: p.name)
def test_no_credentials(path):
    text = path.read_text()
    for pattern in SECRET_PATTERNS:
        assert not re.search(pattern, text), f"{path.name}: matches {pattern}"
    if path.suffix == ".yaml":
        config = yaml.safe_load(text)
        assert set(config["auth"]) == {"ssh_user"}, "no key paths: Ray makes and keeps the SSH key"
        # The token is mounted from the user's home, never stored here.
        assert config["file_mounts"]["/home/ray/.ray/auth_token"] == "~/.ray/auth_token"

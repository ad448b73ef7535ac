"""cluster.yaml (AWS) and cluster/gcp.yaml: Ray's own autoscaler schema accepts them, and they keep the
invariants the README promises: a head that runs no tasks, data workers that carry `data_node`, GPU
workers, only SSH reachable from outside, workers without the head's cloud identity, no credentials."""
from __future__ import annotations

import ast
import copy
import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from cluster.placement import DATA_RESOURCE, ENV, STABLE_RESOURCE
from cluster.submit import SECRETS

# Ray's private autoscaler code the checks below use, all of it here (a compat module may take it over):
# prepare_config/validate_config run what `ray up` runs first, _create_default_inbound_rules makes the AWS
# security group, and the AWS/GCP config modules name the identity Ray's bootstrap gives the head.
from ray.autoscaler._private.aws import config as ray_aws
from ray.autoscaler._private.aws.cloudwatch.cloudwatch_helper import CloudwatchHelper
from ray.autoscaler._private.util import prepare_config, validate_config

RAY_GCP_CONFIG = "ray.autoscaler._private.gcp.config"  # imports the Google client libraries: read, not imported

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
    provider = load("aws")["provider"]
    assert provider["security_group"]["GroupName"]
    rules = ray_aws._create_default_inbound_rules({"sg-cluster"}, provider["security_group"].get("IpPermissions", []))
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


AWS_WORKER = "raypretrain-worker"  # the workers' role and instance profile
S3_OBJECT_ACTIONS = {"s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads", "s3:GetObject",
                     "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}
GCP_WORKER = "raypretrain-worker"  # the workers' service account
GCP_STORAGE_SCOPES = {"https://www.googleapis.com/auth/devstorage.read_write",
                      "https://www.googleapis.com/auth/devstorage.read_only"}
GCP_STORAGE_ROLES = {"roles/storage.objectUser", "roles/storage.objectViewer", "roles/storage.objectCreator"}


def commands(text: str, program: str) -> list[list[str]]:
    """The `program …` command lines in `text`, commented out or not, continuation lines joined."""
    lines = [line.lstrip("#").strip() for line in text.splitlines()]
    joined = "\n".join(lines).replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.startswith(program + " ")]


def flags(argv: list[str]) -> dict[str, str]:
    """{name: value} of an argv's `--name value` and `--name=value` options."""
    out = {}
    for i, a in enumerate(argv):
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            out[name] = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
    return out


def test_aws_workers_do_not_get_the_heads_role():
    """Ray's bootstrap gives its ray-autoscaler-v1 profile (EC2 and S3 full access) to the head only; every
    worker type names raypretrain-worker, whose documented policy is S3 objects only, and the head may pass
    exactly that role."""
    config = load("aws")
    head = config["available_node_types"][config["head_node_type"]]["node_config"]
    assert "IamInstanceProfile" not in head, "the head keeps Ray's own profile: the autoscaler needs it"
    head_profile = CloudwatchHelper.resolve_instance_profile_name(config["provider"], ray_aws.DEFAULT_RAY_INSTANCE_PROFILE)
    head_role = CloudwatchHelper.resolve_iam_role_name(config["provider"], ray_aws.DEFAULT_RAY_IAM_ROLE)
    assert AWS_WORKER not in (head_profile, head_role)
    for name, node_type in workers(config).items():
        assert node_type["node_config"].get("IamInstanceProfile") == {"Name": AWS_WORKER}, name
    iam = [c[2:] for c in commands(CONFIGS["aws"].read_text(), "aws") if c[1] == "iam"]
    by_verb = {}
    for c in iam:
        by_verb.setdefault(c[0], []).append(flags(c))
    assert [f["role-name"] for f in by_verb["create-role"]] == [AWS_WORKER]
    trust = json.loads(by_verb["create-role"][0]["assume-role-policy-document"])
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "ec2.amazonaws.com"}]
    assert by_verb["create-instance-profile"] == [{"instance-profile-name": AWS_WORKER}]
    assert by_verb["add-role-to-instance-profile"] == [{"instance-profile-name": AWS_WORKER, "role-name": AWS_WORKER}]
    assert "attach-role-policy" not in by_verb, "no managed policies (AmazonS3FullAccess is s3:*) on the workers"
    policies = {f["role-name"]: json.loads(f["policy-document"]) for f in by_verb["put-role-policy"]}
    assert set(policies) == {AWS_WORKER, head_role}
    for statement in policies[AWS_WORKER]["Statement"]:
        assert statement["Effect"] == "Allow" and set(statement["Action"]) <= S3_OBJECT_ACTIONS, statement
        assert statement["Resource"].startswith("arn:aws:s3:::"), statement
    (passes,) = policies[head_role]["Statement"]
    assert passes["Action"] == "iam:PassRole" and passes["Resource"].endswith(f":role/{AWS_WORKER}")


def ray_gcp_head_identity() -> tuple[str, list[str]]:
    """(service account id, project roles) Ray's GCP bootstrap makes for the head, read from its module's
    constants (the module imports the Google client libraries, which this environment need not have)."""
    source = Path(importlib.util.find_spec(RAY_GCP_CONFIG).origin).read_text()
    names = {"VERSION", "RAY", "DEFAULT_SERVICE_ACCOUNT_ID", "DEFAULT_SERVICE_ACCOUNT_ROLES"}
    body = [n for n in ast.parse(source).body if isinstance(n, ast.Assign)
            and {getattr(t, "id", None) for t in n.targets} <= names]
    scope: dict = {}
    exec(compile(ast.Module(body=body, type_ignores=[]), RAY_GCP_CONFIG, "exec"), {}, scope)
    return scope["DEFAULT_SERVICE_ACCOUNT_ID"], scope["DEFAULT_SERVICE_ACCOUNT_ROLES"]


def test_gcp_workers_do_not_run_as_the_heads_service_account():
    """Ray's head account holds compute.admin and iam.serviceAccountUser; the workers' account, made by
    cluster/gcp-network.sh, gets storage object roles only and a storage-only scope."""
    config = load("gcp")
    head_account, head_roles = ray_gcp_head_identity()
    assert "compute.admin" in " ".join(head_roles)  # what the workers must not have
    head = config["available_node_types"][config["head_node_type"]]["node_config"]
    assert "serviceAccounts" not in head, "the head keeps Ray's own account: the autoscaler needs it"
    for name, node_type in workers(config).items():
        (account,) = node_type["node_config"]["serviceAccounts"]
        assert account["email"] == f"{GCP_WORKER}@PROJECT_ID.iam.gserviceaccount.com" != head_account, name
        assert set(account["scopes"]) <= GCP_STORAGE_SCOPES, f"{name}: {account['scopes']}"
    script = (REPO / "cluster" / "gcp-network.sh").read_text()
    assert f'WORKER="{GCP_WORKER}@$PROJECT.iam.gserviceaccount.com"' in script
    gc = [c[1:] for c in commands(script, "gc")]
    assert [c[2:4] for c in gc if c[:2] == ["iam", "service-accounts"]] == [["create", GCP_WORKER]]
    bindings = [flags(c) for c in gc if "add-iam-policy-binding" in c]
    assert len(bindings) == 2  # on the project, or with BUCKET=… on that bucket only
    for binding in bindings:
        assert binding["member"] == "serviceAccount:$WORKER" and binding["role"] in GCP_STORAGE_ROLES, binding
    assert any(c[:3] == ["storage", "buckets", "add-iam-policy-binding"] for c in gc)


@pytest.mark.parametrize("cloud", CONFIGS)
def test_rsync_never_copies_credentials(cloud):
    """file_mounts rsyncs this working copy to every node: the secrets `cluster.submit` never ships stay too."""
    assert set(SECRETS) <= set(load(cloud)["rsync_exclude"])


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

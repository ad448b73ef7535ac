#!/usr/bin/env bash
# The network cluster/gcp.yaml runs in: from outside only SSH (TCP 22) is admitted; between the
# cluster's nodes (network tag `raypretrain`) everything is. Ray's GCP provider creates no firewall
# rules, and GCP's `default` network also admits RDP (3389) and ICMP from anywhere.
#   bash cluster/gcp-network.sh PROJECT_ID [REGION]
# Narrow SSH to your own address with SSH_SOURCE=203.0.113.7/32. Run once per project.
set -euo pipefail
PROJECT="${1:?usage: bash cluster/gcp-network.sh PROJECT_ID [REGION]}"
REGION="${2:-us-central1}"
SSH_SOURCE="${SSH_SOURCE:-0.0.0.0/0}"
gc() { gcloud --project "$PROJECT" --quiet "$@"; }

gc compute networks create raypretrain --subnet-mode=custom
gc compute networks subnets create raypretrain --network=raypretrain --region="$REGION" --range=10.40.0.0/20
gc compute firewall-rules create raypretrain-ssh --network=raypretrain --direction=INGRESS \
    --allow=tcp:22 --source-ranges="$SSH_SOURCE" --target-tags=raypretrain
gc compute firewall-rules create raypretrain-internal --network=raypretrain --direction=INGRESS \
    --allow=tcp,udp,icmp --source-tags=raypretrain --target-tags=raypretrain

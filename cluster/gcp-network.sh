#!/usr/bin/env bash
# The network cluster/gcp.yaml runs in: from outside only SSH (TCP 22) is admitted; between the
# cluster's nodes (network tag `raypretrain`) everything is. Ray's GCP provider creates no firewall
# rules, and GCP's `default` network also admits RDP (3389) and ICMP from anywhere.
# It also makes the workers' service account, raypretrain-worker: Cloud Storage objects only (read,
# write, delete, list), never the head's compute.admin or iam.serviceAccountUser.
#   bash cluster/gcp-network.sh PROJECT_ID [REGION]
# Narrow SSH to your own address with SSH_SOURCE=203.0.113.7/32, and the workers to one bucket with
# BUCKET=my-bucket (the role is then bound on that bucket, not the project). Run once per project.
set -euo pipefail
PROJECT="${1:?usage: bash cluster/gcp-network.sh PROJECT_ID [REGION]}"
REGION="${2:-us-central1}"
SSH_SOURCE="${SSH_SOURCE:-0.0.0.0/0}"
BUCKET="${BUCKET:-}"
WORKER="raypretrain-worker@$PROJECT.iam.gserviceaccount.com"
gc() { gcloud --project "$PROJECT" --quiet "$@"; }

gc compute networks create raypretrain --subnet-mode=custom
gc compute networks subnets create raypretrain --network=raypretrain --region="$REGION" --range=10.40.0.0/20
gc compute firewall-rules create raypretrain-ssh --network=raypretrain --direction=INGRESS \
    --allow=tcp:22 --source-ranges="$SSH_SOURCE" --target-tags=raypretrain
gc compute firewall-rules create raypretrain-internal --network=raypretrain --direction=INGRESS \
    --allow=tcp,udp,icmp --source-tags=raypretrain --target-tags=raypretrain

gc iam service-accounts create raypretrain-worker --display-name="raypretrain workers: Cloud Storage objects only"
if [[ -n "$BUCKET" ]]; then
    gc storage buckets add-iam-policy-binding "gs://${BUCKET#gs://}" --member="serviceAccount:$WORKER" \
        --role=roles/storage.objectUser
else
    gc projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:$WORKER" \
        --role=roles/storage.objectUser --condition=None
fi

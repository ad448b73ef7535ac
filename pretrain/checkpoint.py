"""Reading a training checkpoint back as a single-process model.

A checkpoint folder (what Ray stores per report) holds:

    engine/          DeepSpeed's files: model states, one optimizer shard per rank (ZeRO)
    engine/../latest the DeepSpeed tag file
    state.json       step, tokens seen, samples consumed per rank, RNG state
    config.json      the PretrainConfig of the run, as plain data
    tokenizer.json   the tokenizer the shards were encoded with

`load_model` consolidates ZeRO shards into one fp32 state dict with DeepSpeed's own
`zero_to_fp32` (stages 1-3), or reads the module weights (stage 0).
"""
from __future__ import annotations

import glob
import json
import os

import torch

from datapipe.typedconfig import ConfigError, from_dict
from pretrain.config import PretrainConfig
from pretrain.model import GPT

TAG = "engine"


def consolidated_state_dict(path: str, zero_stage: int) -> dict[str, torch.Tensor]:
    """fp32 weights of the whole model from a checkpoint folder, in one process."""
    if zero_stage == 0:
        (states,) = glob.glob(os.path.join(path, TAG, "mp_rank_*_model_states.pt"))
        module = torch.load(states, map_location="cpu", weights_only=False)["module"]
        return {k: v.float() for k, v in module.items()}
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    return get_fp32_state_dict_from_zero_checkpoint(path, tag=TAG)


def load_config(path: str) -> PretrainConfig:
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise ConfigError(f"checkpoint not found: {path} has no config.json (pass a checkpoint_* folder)")
    with open(os.path.join(path, "config.json")) as f:
        return from_dict(PretrainConfig, json.load(f))


def load_model(path: str) -> tuple[GPT, PretrainConfig, "object"]:
    """(model in eval mode, its PretrainConfig, its tokenizers.Tokenizer) from a checkpoint folder."""
    from tokenizers import Tokenizer

    cfg = load_config(path)
    model = GPT(cfg.model)
    state = consolidated_state_dict(path, cfg.deepspeed.zero_stage)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # a tied output layer is stored once, under whichever name the engine saw first
    if [m for m in missing if not (cfg.model.tie_embeddings and "lm_head" in m)] or unexpected:
        raise ConfigError(f"checkpoint {path} does not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
    return model.eval(), cfg, tok


def latest_checkpoint(run_dir: str) -> str | None:
    """The newest checkpoint_* folder under a Ray run folder, or None."""
    found = sorted(p for p in glob.glob(os.path.join(run_dir, "checkpoint_*")) if os.path.isdir(p))
    return found[-1] if found else None

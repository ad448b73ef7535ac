"""Export a trained GPT as a Hugging Face Llama checkpoint, and load one back.

The folder `save_pretrained` writes is what `transformers.LlamaForCausalLM.from_pretrained(dir)` reads:

    model.safetensors       weights under LlamaForCausalLM's names (model.layers.0.self_attn.q_proj.weight, ...)
    config.json             a LlamaConfig, plus a "raypretrain" key holding our GPTConfig to rebuild it exactly
    tokenizer.json          copied when given, with a small tokenizer_config.json naming the special tokens

Our module names already are Llama's (see pretrain/model.py), so the mapping is a `model.` prefix on everything
but lm_head, and lm_head is left out when it is tied to the embedding (Llama re-ties it from
tie_word_embeddings). RoPE uses the same half-split layout, so no q/k permutation is needed.

Writing and reading these files needs `safetensors` only; `transformers` is not a dependency.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Mapping, Optional

import torch
from safetensors.torch import load_file, save_file

from pretrain.checkpoint import load_model
from pretrain.model import GPT, GPTConfig
from raypretrain import storage
from raypretrain.config import ConfigError
from raypretrain.console import setup

logger = logging.getLogger("pretrain")

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
CONFIG_KEY = "raypretrain"
"""config.json key that holds our GPTConfig as a dict."""


def hf_config(cfg: GPTConfig, bos_id: Optional[int] = None, eos_id: Optional[int] = None,
              pad_id: Optional[int] = None, torch_dtype: str = "float32") -> dict:
    """A LlamaConfig-shaped dict for `cfg` (config.json), with our own config under "raypretrain"."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.ffn_dim,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "num_key_value_heads": cfg.kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.seq_len,
        "rms_norm_eps": cfg.norm_eps,
        # transformers < 5 reads rope_theta/rope_scaling; 5.x reads rope_parameters (and still accepts the old keys).
        "rope_theta": cfg.rope_theta,
        "rope_scaling": None,
        "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
        "tie_word_embeddings": cfg.tie_embeddings,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "initializer_range": cfg.init_std,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "pad_token_id": pad_id,
        "torch_dtype": torch_dtype,
        "use_cache": True,
        CONFIG_KEY: dataclasses.asdict(cfg),
    }


def to_hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """Model weights under LlamaForCausalLM's names; contiguous, detached, and a tied lm_head left out."""
    out = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":
            if model.cfg.tie_embeddings:
                continue  # the same tensor as embed_tokens.weight; safetensors refuses shared storage anyway
            out[name] = tensor.detach().contiguous()
        else:
            out[f"model.{name}"] = tensor.detach().contiguous()
    return out


def from_hf_state_dict(state: Mapping[str, torch.Tensor], cfg: GPTConfig) -> dict[str, torch.Tensor]:
    """The inverse of to_hf_state_dict: names GPT(cfg).load_state_dict accepts (strict)."""
    out = {name.removeprefix("model."): tensor for name, tensor in state.items()}
    if cfg.tie_embeddings:
        out["lm_head.weight"] = out["embed_tokens.weight"]
    return out


def save_pretrained(model: GPT, cfg: GPTConfig, out_dir: str | Path, tokenizer_json_path: str | Path | None = None,
                    special_ids: Optional[Mapping[str, Optional[int]]] = None) -> Path:
    """Write model.safetensors, config.json and (when given) tokenizer.json into out_dir; returns out_dir.

    special_ids holds any of bos_id, eos_id, pad_id (hf_config's keywords), e.g. {"eos_id": 0, "pad_id": 1}.
    Weights are saved in the model's dtype. The model itself is not modified (pass the bare GPT, not a DDP or
    DeepSpeed wrapper).
    """
    if model.cfg != cfg:
        raise ValueError("save_pretrained: cfg is not the config the model was built with")
    ids = dict(special_ids or {})
    unknown = sorted(set(ids) - {"bos_id", "eos_id", "pad_id"})
    if unknown:
        raise ValueError(f"special_ids: unknown key {unknown[0]!r} (known: bos_id, eos_id, pad_id)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.cpu() for k, v in to_hf_state_dict(model).items()}
    dtype = str(next(iter(state.values())).dtype).removeprefix("torch.")
    save_file(state, str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    config = hf_config(cfg, torch_dtype=dtype, **ids)
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    if tokenizer_json_path is not None:
        shutil.copyfile(tokenizer_json_path, out / TOKENIZER_FILE)
        (out / TOKENIZER_CONFIG_FILE).write_text(json.dumps(_tokenizer_config(out / TOKENIZER_FILE, ids), indent=2)
                                                 + "\n")
    return out


def _tokenizer_config(tokenizer_json: Path, ids: Mapping[str, Optional[int]]) -> dict:
    """Tells transformers' AutoTokenizer to wrap tokenizer.json as-is and which strings are BOS/EOS/PAD."""
    added = {t["id"]: t["content"] for t in json.loads(tokenizer_json.read_text()).get("added_tokens", [])}
    config: dict = {"tokenizer_class": "PreTrainedTokenizerFast"}
    for key, token_key in (("bos_id", "bos_token"), ("eos_id", "eos_token"), ("pad_id", "pad_token")):
        if ids.get(key) is not None and ids[key] in added:
            config[token_key] = added[ids[key]]
    return config


def load_pretrained(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[GPT, GPTConfig]:
    """Rebuild the GPT that save_pretrained wrote (same config, weights and dtype), in eval mode."""
    path = Path(path)
    raw = json.loads((path / CONFIG_FILE).read_text())
    if CONFIG_KEY not in raw:
        raise ValueError(f"{path / CONFIG_FILE}: no {CONFIG_KEY!r} key; not written by pretrain.export")
    cfg = GPTConfig(**raw[CONFIG_KEY])
    state = from_hf_state_dict(load_file(str(path / WEIGHTS_FILE), device=str(map_location)), cfg)
    model = GPT(cfg).to(device=map_location, dtype=state["embed_tokens.weight"].dtype)
    model.load_state_dict(state, strict=True)
    return model.eval(), cfg


def export_checkpoint(checkpoint: str, out_dir: str) -> Path:
    """A complete training checkpoint folder (ZeRO shards consolidated) → a Hugging Face-style folder.
    ConfigError, before anything is written, for an `out_dir` that overlaps the checkpoint or holds
    files other than an earlier export's."""
    storage.refuse_overlap(out_dir, [checkpoint], "--out")
    storage.check_replaceable(storage.resolve(out_dir), (WEIGHTS_FILE,), "--out")
    model, cfg, tok = load_model(checkpoint)
    ids = {"eos_id": tok.token_to_id(cfg.data.datapipe.tokenize.eos_token),
           "pad_id": tok.token_to_id(cfg.data.datapipe.tokenize.pad_token)}
    ids["bos_id"] = ids["eos_id"]
    return save_pretrained(model, cfg.model, out_dir, os.path.join(checkpoint, "tokenizer.json"), special_ids=ids)


def main(argv: list[str] | None = None) -> int:
    """`python -m pretrain.export --checkpoint PATH --out DIR`: model.safetensors, config.json, tokenizer.json."""
    p = argparse.ArgumentParser(prog="python -m pretrain.export", description=main.__doc__)
    p.add_argument("--checkpoint", required=True, help="a checkpoint_* folder of a training run")
    p.add_argument("--out", required=True, help="output folder")
    args = p.parse_args(argv)
    setup()
    try:
        out = export_checkpoint(args.checkpoint, args.out)
    except ConfigError as e:
        print(f"pretrain.export: error: {e}", file=sys.stderr)
        return 2
    logger.info(f"[export] wrote {out}/model.safetensors, config.json, tokenizer.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

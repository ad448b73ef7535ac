"""pretrain/export.py: Hugging Face Llama layout, save/load round trip, and (when installed) transformers parity."""
import json
import os

import pytest
import torch

from safetensors.torch import load_file

from pretrain.export import from_hf_state_dict, hf_config, load_pretrained, save_pretrained, to_hf_state_dict
from pretrain.model import GPT, GPTConfig, RMSNorm

TINY = dict(vocab_size=101, seq_len=32, n_layer=2, n_head=4, d_model=64)


def build(**overrides) -> tuple[GPT, GPTConfig]:
    """A tiny model whose weights are far from init, so a wrong mapping cannot go unnoticed."""
    cfg = GPTConfig(**{**TINY, "init_std": 0.1, **overrides})
    torch.manual_seed(0)
    model = GPT(cfg).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, RMSNorm):
                module.weight.uniform_(0.5, 1.5)
    return model, cfg


def make_tokenizer(path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<|pad|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["the quick brown fox jumps over the lazy dog"] * 20, trainer)
    tok.save(str(path))
    return tok


def test_hf_config_fields():
    cfg = GPTConfig(vocab_size=50304, seq_len=1024, n_layer=12, n_head=12, n_kv_head=4, d_model=768,
                    rope_theta=500000.0, norm_eps=1e-6, tie_embeddings=False)
    c = hf_config(cfg, bos_id=None, eos_id=0, pad_id=1)
    assert c["architectures"] == ["LlamaForCausalLM"] and c["model_type"] == "llama"
    assert (c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]) == (768, 2048, 12)
    assert (c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]) == (12, 4, 64)
    assert (c["max_position_embeddings"], c["vocab_size"], c["rms_norm_eps"]) == (1024, 50304, 1e-6)
    assert c["rope_theta"] == c["rope_parameters"]["rope_theta"] == 500000.0
    assert c["tie_word_embeddings"] is False
    assert c["attention_bias"] is False and c["mlp_bias"] is False and c["hidden_act"] == "silu"
    assert (c["bos_token_id"], c["eos_token_id"], c["pad_token_id"]) == (None, 0, 1)
    assert GPTConfig(**c["raypretrain"]) == cfg
    json.dumps(c)  # plain JSON data


@pytest.mark.parametrize("tie", [True, False])
def test_state_dict_uses_llama_names(tie):
    model, cfg = build(tie_embeddings=tie)
    state = to_hf_state_dict(model)
    expected = {"model.embed_tokens.weight", "model.norm.weight"}
    for i in range(2):
        expected |= {f"model.layers.{i}.{name}.weight" for name in (
            "input_layernorm", "post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj",
            "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")}
    if not tie:
        expected.add("lm_head.weight")
    assert set(state) == expected
    assert all(t.is_contiguous() and not t.requires_grad for t in state.values())
    assert torch.equal(state["model.layers.1.mlp.down_proj.weight"], model.layers[1].mlp.down_proj.weight)
    assert set(from_hf_state_dict(state, cfg)) == set(model.state_dict())


@pytest.mark.parametrize("overrides", [{}, {"tie_embeddings": False}, {"n_kv_head": 2, "rope_theta": 500.0}])
def test_save_and_load_round_trip(tmp_path, overrides):
    model, cfg = build(**overrides)
    out = save_pretrained(model, cfg, tmp_path / "export", special_ids={"eos_id": 0, "pad_id": 1})
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    assert config["torch_dtype"] == "float32" and config["eos_token_id"] == 0 and config["pad_token_id"] == 1
    assert config["tie_word_embeddings"] is cfg.tie_embeddings
    loaded, loaded_cfg = load_pretrained(out)
    assert loaded_cfg == cfg and not loaded.training
    assert (loaded.lm_head.weight is loaded.embed_tokens.weight) == cfg.tie_embeddings
    idx = torch.randint(0, 101, (2, 32))
    with torch.no_grad():
        assert torch.equal(loaded(idx)[0], model(idx)[0])


def test_tied_weights_are_stored_once(tmp_path):
    tied, cfg = build()
    untied, untied_cfg = build(tie_embeddings=False)
    save_pretrained(tied, cfg, tmp_path / "tied")
    save_pretrained(untied, untied_cfg, tmp_path / "untied")
    assert "lm_head.weight" not in load_file(str(tmp_path / "tied" / "model.safetensors"))
    extra = (tmp_path / "untied" / "model.safetensors").stat().st_size - (tmp_path / "tied" / "model.safetensors"
                                                                          ).stat().st_size
    assert abs(extra - 101 * 64 * 4) < 200  # one more fp32 vocab x d_model matrix (plus its header entry)


def test_bf16_weights_stay_bf16(tmp_path):
    model, cfg = build()
    model = model.to(torch.bfloat16)
    save_pretrained(model, cfg, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["torch_dtype"] == "bfloat16"
    loaded, _ = load_pretrained(tmp_path)
    assert loaded.embed_tokens.weight.dtype == torch.bfloat16
    assert torch.equal(loaded.layers[0].self_attn.q_proj.weight, model.layers[0].self_attn.q_proj.weight)


def test_tokenizer_is_copied_with_its_special_tokens(tmp_path):
    tok = make_tokenizer(tmp_path / "tok.json")
    eos, pad = tok.token_to_id("<|endoftext|>"), tok.token_to_id("<|pad|>")
    model, cfg = build()
    out = save_pretrained(model, cfg, tmp_path / "export", tokenizer_json_path=tmp_path / "tok.json",
                          special_ids={"eos_id": eos, "pad_id": pad})
    assert (out / "tokenizer.json").read_bytes() == (tmp_path / "tok.json").read_bytes()
    tok_config = json.loads((out / "tokenizer_config.json").read_text())
    assert tok_config == {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|endoftext|>",
                          "pad_token": "<|pad|>"}


def test_bad_arguments_are_refused(tmp_path):
    model, cfg = build()
    with pytest.raises(ValueError, match="special_ids: unknown key 'eos'"):
        save_pretrained(model, cfg, tmp_path, special_ids={"eos": 0})
    with pytest.raises(ValueError, match="not the config the model was built with"):
        save_pretrained(model, GPTConfig(**{**TINY, "n_layer": 3}), tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ValueError, match="no 'raypretrain' key"):
        load_pretrained(tmp_path)


@pytest.mark.parametrize("overrides", [{}, {"tie_embeddings": False, "n_kv_head": 2, "rope_theta": 500.0}])
def test_transformers_llama_gives_the_same_logits(tmp_path, overrides):
    transformers = pytest.importorskip("transformers")

    model, cfg = build(**overrides)
    tok = make_tokenizer(tmp_path / "tok.json")
    out = save_pretrained(model, cfg, tmp_path / "export", tokenizer_json_path=tmp_path / "tok.json",
                          special_ids={"eos_id": 0, "pad_id": 1})
    hf = transformers.LlamaForCausalLM.from_pretrained(out).eval()
    idx = torch.randint(0, 101, (2, 32))
    with torch.no_grad():
        ours, theirs = model(idx)[0], hf(idx).logits
    assert ours.std() > 0.3  # far from init, so the comparison has something to compare
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=1e-4)
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    text = "the lazy fox"
    assert hf_tok(text)["input_ids"] == tok.encode(text).ids
    assert (hf_tok.eos_token, hf_tok.pad_token) == ("<|endoftext|>", "<|pad|>")


def a_checkpoint_folder(root):
    """Enough of a checkpoint folder for the checks that come before anything is read from it."""
    root.mkdir(parents=True)
    (root / "state.json").write_text("{}")
    (root / "config.json").write_text("{}")
    return root


@pytest.mark.parametrize("where", ["same", "inside", "around"])
def test_export_refuses_an_out_that_overlaps_the_checkpoint(tmp_path, where, capsys):
    from pretrain import export

    ckpt = a_checkpoint_folder(tmp_path / "run" / "ckpt")
    out = {"same": ckpt, "inside": ckpt / "export", "around": tmp_path / "run"}[where]
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    assert export.main(["--checkpoint", str(ckpt), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pretrain.export: error: --out ") and "overlaps the input" in err[0], err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # nothing written


def test_export_refuses_a_folder_that_is_not_an_earlier_export(tmp_path, capsys):
    from pretrain import export

    ckpt = a_checkpoint_folder(tmp_path / "ckpt")
    out = tmp_path / "notes"
    out.mkdir()
    (out / "todo.txt").write_text("mine")
    assert export.main(["--checkpoint", str(ckpt), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds files that no earlier run of ours wrote" in err[0], err
    assert os.listdir(out) == ["todo.txt"]
    (out / "model.safetensors").write_bytes(b"")  # an earlier export may be replaced: --out passes, and
    assert export.main(["--checkpoint", str(ckpt), "--out", str(out)]) == 2  # the checkpoint is looked at next
    err = capsys.readouterr().err
    assert "--out" not in err and f"checkpoint {ckpt} has no completion marker" in err, err

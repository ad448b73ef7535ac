"""pretrain/model.py: shapes, masking, sizes, optimizer groups, both objectives learn, sampling, MLM corruption."""
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from raypretrain.config import field_docs, from_dict
from pretrain.model import (GPT, IGNORE_INDEX, RMSNorm, GPTConfig, apply_rope, flops_per_token, mlm_mask,
                            num_params, rope_cache)

TINY = dict(vocab_size=64, seq_len=32, n_layer=2, n_head=4, d_model=64)


def tiny(**overrides) -> GPTConfig:
    return GPTConfig(**{**TINY, **overrides})


def build(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    return GPT(tiny(**overrides))


def test_every_config_field_is_documented_and_loads_with_typedconfig():
    docs = field_docs(GPTConfig)
    assert set(docs) == {f.name for f in dataclasses.fields(GPTConfig)}
    assert all(len(doc) > 20 for doc in docs.values())
    cfg = from_dict(GPTConfig, {"n_layer": 12, "d_model": 768, "n_head": 12, "rope_theta": "5e5"})
    assert cfg == GPTConfig(n_layer=12, d_model=768, n_head=12, rope_theta=500000.0)


def test_defaults_are_the_debug_preset():
    cfg = GPTConfig()
    assert (cfg.n_layer, cfg.d_model, cfg.n_head, cfg.kv_heads, cfg.head_dim, cfg.ffn_dim) == (4, 256, 4, 4, 64, 704)


@pytest.mark.parametrize("tie", [True, False])
def test_forward_shapes_and_loss(tie):
    model = build(tie_embeddings=tie)
    idx = torch.randint(0, 64, (3, 20))
    logits, loss = model(idx)
    assert logits.shape == (3, 20, 64) and loss is None
    logits, loss = model(idx, targets=torch.randint(0, 64, (3, 20)))
    assert loss.shape == () and math.isfinite(loss.item())
    # At init the output is nearly uniform, so the loss on random targets is close to ln(vocab).
    assert abs(loss.item() - math.log(64)) < 0.3
    with pytest.raises(ValueError, match="longer than seq_len"):
        model(torch.zeros(1, 33, dtype=torch.long))


def test_loss_skips_ignored_targets():
    model = build()
    idx = torch.randint(0, 64, (2, 16))
    targets = idx.clone()
    targets[:, ::3] = IGNORE_INDEX
    logits, loss = model(idx, targets)
    keep = targets != IGNORE_INDEX
    expected = F.cross_entropy(logits[keep], targets[keep])
    torch.testing.assert_close(loss, expected)
    # No counted position: a zero loss with zero gradients, not NaN.
    _, loss = model(idx, torch.full_like(idx, IGNORE_INDEX))
    loss.backward()
    assert loss.item() == 0.0
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def test_causal_attention_hides_the_future_and_bidirectional_does_not():
    model = build().eval()
    idx = torch.randint(0, 64, (2, 24))
    changed = idx.clone()
    changed[:, 15] = (idx[:, 15] + 1) % 64
    with torch.no_grad():
        before, _ = model(idx)
        after, _ = model(changed)
        torch.testing.assert_close(after[:, :15], before[:, :15])  # earlier positions cannot see token 15
        assert (after[:, 15:] - before[:, 15:]).abs().amax() > 1e-3  # later ones (and 15 itself) do
        before, _ = model(idx, causal=False)
        after, _ = model(changed, causal=False)
        assert (after[:, :15] - before[:, :15]).abs().amax() > 1e-3


def test_rope_scores_depend_only_on_relative_position():
    cos, sin = rope_cache(64, 16, 10000.0)
    q, k = torch.randn(1, 1, 1, 16), torch.randn(1, 1, 1, 16)

    def score(m: int, n: int) -> torch.Tensor:
        return (apply_rope(q, cos[m:m + 1], sin[m:m + 1]) * apply_rope(k, cos[n:n + 1], sin[n:n + 1])).sum()

    torch.testing.assert_close(score(3, 1), score(40, 38))
    torch.testing.assert_close(score(10, 10), (q * k).sum())
    assert (score(5, 1) - score(5, 2)).abs() > 1e-4
    torch.testing.assert_close(apply_rope(q, cos[7:8], sin[7:8]).norm(), q.norm())  # a rotation


def test_grouped_query_attention_equals_multi_head_with_shared_kv_heads():
    gqa = build(n_kv_head=2).eval()
    mha = build(seed=1).eval()
    state = gqa.state_dict()
    hd, group = 16, 2
    for i in range(2):
        for name in ("k_proj", "v_proj"):
            key = f"layers.{i}.self_attn.{name}.weight"
            w = state[key].view(2, hd, 64)  # (nkv, hs, d)
            state[key] = w.repeat_interleave(group, dim=0).reshape(4 * hd, 64)  # query head h -> kv head h // 2
    mha.load_state_dict(state)
    idx = torch.randint(0, 64, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(mha(idx)[0], gqa(idx)[0])


@pytest.mark.parametrize("overrides", [
    {}, {"tie_embeddings": False}, {"n_kv_head": 2}, {"n_kv_head": 1, "tie_embeddings": False},
    {"ffn_hidden": 100}, {"d_model": 96, "n_head": 6, "multiple_of": 32},
])
def test_num_params_matches_the_built_model(overrides):
    cfg = tiny(**overrides)
    model = GPT(cfg)
    assert num_params(cfg) == sum(p.numel() for p in model.parameters())
    assert num_params(cfg, non_embedding=True) == num_params(cfg) - cfg.vocab_size * cfg.d_model


def test_ffn_rule():
    assert GPTConfig(d_model=768).ffn_dim == 2048
    assert GPTConfig(d_model=1024, n_head=16).ffn_dim == 2752  # int(8/3 * 1024) = 2730, rounded up to 64s
    assert GPTConfig(d_model=1024, n_head=16, multiple_of=256).ffn_dim == 2816
    assert GPTConfig(ffn_hidden=1000).ffn_dim == 1000


def test_flops_per_token_counts_lm_head_and_attention():
    cfg = GPTConfig(vocab_size=50304, seq_len=1024, n_layer=12, n_head=12, d_model=768)
    blocks = 12 * (4 * 768 * 768 + 3 * 768 * 2048)
    assert flops_per_token(cfg, 1024) == 6 * (blocks + 50304 * 768) + 12 * 12 * 768 * 1024
    assert flops_per_token(cfg, 1024) == flops_per_token(dataclasses.replace(cfg, tie_embeddings=False), 1024)
    gqa = dataclasses.replace(cfg, n_kv_head=4)  # k and v shrink to a third, attention matmuls do not
    assert flops_per_token(cfg, 1024) - flops_per_token(gqa, 1024) == 6 * 12 * 2 * 768 * (768 - 256)


@pytest.mark.parametrize("tie", [True, False])
def test_param_groups_cover_every_parameter_once(tie):
    model = build(tie_embeddings=tie)
    decay, no_decay = model.param_groups(0.1)
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.1, 0.0)
    grouped = [id(p) for p in decay["params"] + no_decay["params"]]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) == {id(p) for p in model.parameters()}
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    norms = {n for n, m in model.named_modules() if isinstance(m, RMSNorm)}
    assert no_decay_names == {f"{n}.weight" for n in norms} | {"embed_tokens.weight"}
    assert ("lm_head.weight" in {names[id(p)] for p in decay["params"]}) == (not tie)
    assert [names[id(p)] for p in decay["params"]] == [n for n, p in model.named_parameters() if id(p) in
                                                     {id(q) for q in decay["params"]}]  # module order
    torch.optim.AdamW(model.param_groups(0.1), lr=1e-3)  # torch accepts the groups as they are


def test_init_scales_residual_projections_and_sets_norms_to_one():
    model = build(n_layer=8, d_model=256, n_head=4, vocab_size=512)
    std = 0.02
    assert abs(model.layers[0].self_attn.q_proj.weight.std().item() - std) < 0.1 * std
    assert abs(model.embed_tokens.weight.std().item() - std) < 0.1 * std
    for block in model.layers:
        for w in (block.self_attn.o_proj.weight, block.mlp.down_proj.weight):
            assert abs(w.std().item() - std / 4) < 0.1 * std / 4  # 1 / sqrt(2 * 8) = 1/4
        assert torch.equal(block.input_layernorm.weight, torch.ones(256))
    assert model.lm_head.weight is model.embed_tokens.weight


def test_bf16_autocast_trains_close_to_fp32():
    model = build()
    idx, targets = torch.randint(0, 64, (2, 32)), torch.randint(0, 64, (2, 32))
    _, fp32_loss = model(idx, targets)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, loss = model(idx, targets)
    loss.backward()
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    assert abs(loss.item() - fp32_loss.item()) < 0.05
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())


def _train(model: GPT, batches, steps: int, causal: bool, lr: float) -> list[float]:
    opt = torch.optim.AdamW(model.param_groups(0.0), lr=lr)
    losses = []
    for step in range(steps):
        inputs, targets = batches(step)
        _, loss = model(inputs, targets, causal=causal)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_causal_lm_overfits_a_fixed_sequence():
    torch.manual_seed(0)
    period = torch.randint(0, 64, (8,))
    seq = period.repeat(5)[:33].unsqueeze(0).expand(4, -1)  # (4, 33)
    model = build()
    losses = _train(model, lambda step: (seq[:, :-1], seq[:, 1:]), steps=100, causal=True, lr=3e-3)
    assert losses[0] > 3.5  # ~ln(64) at init
    assert min(losses[-5:]) < losses[0] / 50  # ~0.01 after 100 steps over seeds 0-11


def test_masked_lm_learns_to_fill_in_from_context():
    # Each sequence counts up from a random start (mod 24), so a masked token is its left neighbour + 1 and its
    # right neighbour - 1: a guess without context costs ln 24 = 3.2 nats, with it close to 0.
    vocab, mask_id = 24, 24
    model = build(vocab_size=vocab + 1)
    g = torch.Generator().manual_seed(0)

    def batch(step: int):
        start = torch.randint(0, vocab, (16, 1), generator=g)
        tokens = (start + torch.arange(32)) % vocab  # (16, 32)
        return mlm_mask(tokens, mask_id, vocab, g, prob=0.15)

    losses = _train(model, batch, steps=150, causal=False, lr=3e-3)
    assert sum(losses[:5]) / 5 > 2.5
    assert sum(losses[-10:]) / 10 < 1.0, losses[-10:]  # 0.12-0.37 over seeds 0-11


def test_mlm_mask_proportions_and_labels():
    tokens = torch.randint(2, 1000, (200, 500))
    tokens[:, -50:] = 0  # padding
    g = torch.Generator().manual_seed(1)
    inputs, labels = mlm_mask(tokens, mask_id=1, vocab_size=1000, generator=g, ignore_ids=(0,))
    eligible = tokens != 0
    selected = labels != IGNORE_INDEX
    assert not selected[~eligible].any()
    assert abs(selected.sum().item() / eligible.sum().item() - 0.15) < 0.005
    assert torch.equal(labels[selected], tokens[selected])
    assert torch.equal(inputs[~selected], tokens[~selected])  # unselected positions are untouched
    n = selected.sum().item()
    masked = (inputs == 1) & selected
    kept = (inputs == tokens) & selected
    randomised = selected & ~masked & ~kept
    assert abs(masked.sum().item() / n - 0.8) < 0.01
    assert abs(kept.sum().item() / n - 0.1) < 0.01  # plus the ~0.1% of random draws that hit the same token
    assert abs(randomised.sum().item() / n - 0.1) < 0.01
    assert inputs.dtype == labels.dtype == torch.long and inputs.max() < 1000


def test_mlm_mask_is_deterministic_given_the_generator():
    tokens = torch.randint(0, 100, (8, 64), dtype=torch.int32)
    a = mlm_mask(tokens, 99, 100, torch.Generator().manual_seed(5))
    b = mlm_mask(tokens, 99, 100, torch.Generator().manual_seed(5))
    c = mlm_mask(tokens, 99, 100, torch.Generator().manual_seed(6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_generate_shapes_determinism_and_greedy():
    model = build()
    model.train()
    prompt = torch.randint(0, 64, (3, 5))
    out = model.generate(prompt, 10, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 15) and torch.equal(out[:, :5], prompt)
    assert model.training  # restored after sampling in eval mode
    again = model.generate(prompt, 10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    other = model.generate(prompt, 10, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(out, other)
    greedy = model.generate(prompt, 10, temperature=0)
    assert torch.equal(model.generate(prompt, 10, top_k=1, generator=torch.Generator().manual_seed(3)), greedy)
    with torch.no_grad():
        first = model.eval()(prompt)[0][:, -1].argmax(-1)
    assert torch.equal(greedy[:, 5], first)
    # Longer than seq_len: the context is cropped rather than rejected.
    assert model.generate(prompt, 40, temperature=0).shape == (3, 45)


def test_generate_stops_when_every_row_emitted_eos():
    model = build().eval()
    prompt = torch.randint(0, 64, (2, 4))
    free = model.generate(prompt, 8, generator=torch.Generator().manual_seed(0))
    eos = free[0, 4].item()  # call row 0's first sampled token EOS
    assert (free[0, 5:] != eos).any()  # without eos_id, row 0 goes on to other tokens
    out = model.generate(prompt, 8, generator=torch.Generator().manual_seed(0), eos_id=eos)
    assert (out[0, 4:] == eos).all()  # with it, row 0 is finished and keeps emitting EOS
    hits = (free[1, 4:] == eos).nonzero()
    stop = 4 + hits[0].item() + 1 if len(hits) else 12  # row 1 runs until its own EOS
    assert out.shape[1] == stop and torch.equal(out[1], free[1, :stop])
    same = prompt[:1].expand(2, -1)
    first = model.generate(same, 1, temperature=0)[0, 4].item()
    assert model.generate(same, 8, temperature=0, eos_id=first).shape == (2, 5)  # both rows done after one step


def test_activation_checkpointing_gives_the_same_loss_and_gradients():
    plain = build()
    ckpt = build(activation_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    idx = torch.randint(0, 64, (2, 32))
    results = []
    for model in (plain, ckpt):
        _, loss = model(idx, idx)
        loss.backward()
        results.append((loss.detach(), {n: p.grad for n, p in model.named_parameters()}))
    torch.testing.assert_close(results[0][0], results[1][0])
    assert results[0][1].keys() == results[1][1].keys()
    for name in results[0][1]:
        torch.testing.assert_close(results[0][1][name], results[1][1][name], msg=name)


@pytest.mark.parametrize("overrides, field", [
    ({"d_model": 100, "n_head": 3}, "n_head"),
    ({"d_model": 60, "n_head": 4}, "n_head"),  # head size 15 is odd
    ({"n_kv_head": 3}, "n_kv_head"),
    ({"n_kv_head": -1}, "n_kv_head"),
    ({"n_layer": 0}, "n_layer"),
    ({"vocab_size": -5}, "vocab_size"),
    ({"seq_len": 0}, "seq_len"),
    ({"ffn_hidden": -1}, "ffn_hidden"),
    ({"dropout": 1.0}, "dropout"),
    ({"norm_eps": 0.0}, "norm_eps"),
    ({"rope_theta": -1.0}, "rope_theta"),
])
def test_config_validation_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=rf"^{field}: ") as info:
        tiny(**overrides)
    assert "\n" not in str(info.value)

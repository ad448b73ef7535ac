"""A decoder-only GPT in one file: Llama-style blocks (RMSNorm, RoPE, SwiGLU, grouped-query attention).

Only torch and the standard library are imported, so the model can be read, tested and exported on its own.
Module and parameter names follow Hugging Face's LlamaForCausalLM (`embed_tokens`, `layers.{i}.self_attn.q_proj`,
`mlp.gate_proj`, `norm`, `lm_head`, ...) and RoPE uses its "rotate_half" layout, so `pretrain/export.py` turns a
checkpoint into a Llama one by adding a `model.` prefix, with no weight permutation.

The same network trains two objectives:
  * causal LM (`causal=True`): each position predicts the next token;
  * masked LM (`causal=False` plus `mlm_mask`): bidirectional attention predicts the masked-out tokens.

Standard sizes, counted by `num_params` with vocab_size=50304, seq_len=1024, tied embeddings, n_kv_head=0 and
ffn_hidden=0 (ffn_dim is what the Llama rule resolves it to). "non-emb" leaves out the 50304 x d_model embedding
table; FLOPs/token is `flops_per_token(cfg, 1024)`, for one training step's forward + backward:

    preset  n_layer  d_model  n_head     ffn_dim         params        non-emb   FLOPs/token
    debug         4      256       4         704      5,310,720      3,213,568       35.0M  (*)
    124m         12      768      12        2048    123,587,328     84,953,856      854.7M
    350m         24     1024      16        2752    355,124,224    303,612,928       2.43G
    760m         24     1536      16        4096    756,819,456    679,552,512       4.99G
    1.3b         24     2048      32        5504  1,317,373,952  1,214,351,360       8.51G

    (*) debug is counted with its own vocab_size=8192 and seq_len=256 (trains on a CPU in minutes); with vocab
        50304 and seq_len 1024 it has 16,091,392 parameters. Untied embeddings add vocab_size * d_model
        (38.6M for 124m at vocab 50304).

GPT-2's 124M/350M/760M/1.3B names are kept for familiarity; with SwiGLU (three d x ffn matrices, ffn ~ 8/3 d)
the MLP has the same parameter count as GPT-2's 4d GELU MLP, so the totals land close to the GPT-2 sizes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

IGNORE_INDEX = -100
"""Target value the loss skips (F.cross_entropy's default ignore_index)."""


@dataclass(frozen=True)
class GPTConfig:
    """Shape and training-time switches of the GPT. Every field maps onto a Hugging Face LlamaConfig key."""

    vocab_size: int = 8192
    """Rows of the token embedding (the tokenizer's vocab, padded up; extra rows are unused or the MLM mask token)."""
    seq_len: int = 256
    """Longest sequence the model accepts (max positions; the length of the RoPE cos/sin cache)."""
    n_layer: int = 4
    """Number of transformer blocks."""
    n_head: int = 4
    """Query heads per attention layer; head size is d_model / n_head and must be even (RoPE rotates pairs)."""
    n_kv_head: int = 0
    """Key/value heads; 0 means n_head (plain multi-head). Smaller gives grouped-query attention; must divide n_head."""
    d_model: int = 256
    """Width of the residual stream (embedding size)."""
    ffn_hidden: int = 0
    """SwiGLU hidden width; 0 uses the Llama rule int(8/3 * d_model) rounded up to a multiple of multiple_of."""
    multiple_of: int = 64
    """Rounding for the automatic ffn_hidden (keeps matmul shapes friendly to the hardware)."""
    rope_theta: float = 10000.0
    """RoPE base; larger stretches the lowest rotation frequencies for longer contexts."""
    norm_eps: float = 1e-5
    """Epsilon inside RMSNorm's square root."""
    dropout: float = 0.0
    """Dropout on embeddings, attention weights and both residual branches while training (0 for pre-training)."""
    tie_embeddings: bool = True
    """Share one matrix between the token embedding and the output projection (lm_head)."""
    activation_checkpointing: bool = False
    """Recompute each block's activations in the backward pass (torch.utils.checkpoint): less memory, ~1/3 more
    compute."""
    init_std: float = 0.02
    """Std of the normal init of Linear and Embedding weights; the residual output projections (o_proj, down_proj)
    get init_std / sqrt(2 * n_layer)."""

    def __post_init__(self) -> None:
        for name in ("vocab_size", "seq_len", "n_layer", "n_head", "d_model", "multiple_of"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)}")
        for name in ("rope_theta", "norm_eps", "init_std"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)}")
        for name in ("norm_eps", "init_std"):
            if not getattr(self, name) <= 1:
                raise ValueError(f"{name}: must be at most 1, got {getattr(self, name)}")
        if self.n_kv_head < 0:
            raise ValueError(f"n_kv_head: must be 0 (same as n_head) or positive, got {self.n_kv_head}")
        if self.ffn_hidden < 0:
            raise ValueError(f"ffn_hidden: must be 0 (automatic) or positive, got {self.ffn_hidden}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")
        if self.d_model % self.n_head:
            raise ValueError(f"n_head: must divide d_model ({self.d_model}), got {self.n_head}")
        if self.head_dim % 2:
            raise ValueError(f"n_head: head size d_model/n_head must be even for RoPE, got {self.head_dim}")
        if self.n_head % self.kv_heads:
            raise ValueError(f"n_kv_head: must divide n_head ({self.n_head}), got {self.n_kv_head}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def kv_heads(self) -> int:
        """n_kv_head with 0 resolved to n_head."""
        return self.n_kv_head or self.n_head

    @property
    def ffn_dim(self) -> int:
        """ffn_hidden with 0 resolved by the Llama rule (8/3 keeps SwiGLU's three matrices at the cost of a 4x MLP)."""
        if self.ffn_hidden:
            return self.ffn_hidden
        hidden = int(8 * self.d_model / 3)
        return self.multiple_of * math.ceil(hidden / self.multiple_of)


# ----------------------------------------------------------------------------------------------------------------
# Building blocks


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The mean of squares is taken in fp32 even under bf16 autocast: half types lose too much precision there.
        # Hugging Face Llama does the same, which keeps exported logits identical.
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rope_cache(seq_len: int, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables, each (seq_len, head_dim), in Hugging Face's half-split layout."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))  # (hs/2,)
    freqs = torch.outer(torch.arange(seq_len).float(), inv_freq)  # (T, hs/2)
    # Frequency j drives dims j and j + hs/2 (not 2j and 2j+1, as in the original RoPE/Meta code), so q/k weights
    # need no permutation to run in Hugging Face's LlamaForCausalLM.
    emb = torch.cat((freqs, freqs), dim=-1)  # (T, hs)
    return emb.cos(), emb.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, nh, T, hs) queries or keys by their position; cos/sin are (T, hs)."""
    x1, x2 = x.chunk(2, dim=-1)  # each (B, nh, T, hs/2)
    rotated = torch.cat((-x2, x1), dim=-1)  # "rotate_half"
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, cfg.kv_heads, cfg.head_dim
        self.dropout = cfg.dropout
        self.q_proj = nn.Linear(cfg.d_model, self.n_head * self.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.d_model, self.n_kv_head * self.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.d_model, self.n_kv_head * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_head * self.head_dim, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, causal: bool) -> torch.Tensor:
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        k = self.k_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, nkv, T, hs)
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, nkv, T, hs)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.n_kv_head != self.n_head:
            # Query head h reads kv head h // group (Hugging Face's repeat_kv order). Repeating instead of SDPA's
            # enable_gqa keeps torch 2.3/2.4 working.
            group = self.n_head // self.n_kv_head
            k = k.repeat_interleave(group, dim=1)  # (B, nh, T, hs)
            v = v.repeat_interleave(group, dim=1)  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, self.n_head * self.head_dim)  # (B, T, nh*hs)
        return self.o_proj(y)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.ffn_dim, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.ffn_dim, bias=False)
        self.down_proj = nn.Linear(cfg.ffn_dim, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, causal: bool) -> torch.Tensor:
        x = x + self.resid_dropout(self.self_attn(self.input_layernorm(x), cos, sin, causal))
        return x + self.resid_dropout(self.mlp(self.post_attention_layernorm(x)))


# ----------------------------------------------------------------------------------------------------------------
# The model


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.embed_dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        # Not persistent: the tables are recomputed from the config, so checkpoints hold only parameters.
        cos, sin = rope_cache(cfg.seq_len, cfg.head_dim, cfg.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """normal(0, init_std) everywhere, with the residual output projections shrunk by 1/sqrt(2*n_layer).

        Each block adds two branches to the residual stream; shrinking their last matmul keeps the stream's
        variance roughly constant in depth at init (GPT-2 / nanoGPT rule). RMSNorm weights start at 1.
        """
        std = self.cfg.init_std
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=std)
            elif isinstance(module, RMSNorm):
                nn.init.ones_(module.weight)
        for block in self.layers:
            for proj in (block.self_attn.o_proj, block.mlp.down_proj):
                nn.init.normal_(proj.weight, mean=0.0, std=std / math.sqrt(2 * self.cfg.n_layer))

    def forward(self, idx: torch.Tensor, targets: Optional[torch.Tensor] = None,
                causal: bool = True) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """idx (B, T) token ids -> (logits (B, T, vocab_size), loss or None).

        targets (B, T) holds the token each position should predict (the caller shifts for causal LM) or
        IGNORE_INDEX (-100) where no loss is wanted (padding; unmasked positions in masked LM). The loss is the
        mean over the positions that count; 0 (with zero gradient) if none do. causal=False attends both ways.
        """
        B, T = idx.shape
        if T > self.cfg.seq_len:
            raise ValueError(f"sequence of length {T} is longer than seq_len={self.cfg.seq_len}")
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # (T, hs)
        x = self.embed_dropout(self.embed_tokens(idx))  # (B, T, d)
        for block in self.layers:
            if self.cfg.activation_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(block, x, cos, sin, causal, use_reentrant=False)
            else:
                x = block(x, cos, sin, causal)
        logits = self.lm_head(self.norm(x))  # (B, T, vocab)
        if targets is None:
            return logits, None
        # Sum / count rather than reduction="mean": a batch with no counted position (possible with masked LM on
        # short inputs) gives 0, not NaN. The loss is taken in fp32 even if the logits are bf16.
        flat_targets = targets.reshape(-1)
        total = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), flat_targets,
                                ignore_index=IGNORE_INDEX, reduction="sum")
        count = (flat_targets != IGNORE_INDEX).sum().clamp(min=1)
        return logits, total / count

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: Optional[int] = None, generator: Optional[torch.Generator] = None,
                 eos_id: Optional[int] = None) -> torch.Tensor:
        """Append up to max_new_tokens sampled tokens to idx (B, T); returns (B, T + new).

        temperature 0 is greedy; top_k keeps only the k most likely tokens before sampling. `generator` (on the
        model's device) makes sampling reproducible. With eos_id, a row that has emitted it keeps emitting it
        and generation stops once every row has. The context is cropped to the last seq_len tokens. There is no
        KV cache: each step reruns the whole context, which is fine for samples during training.
        """
        was_training = self.training
        self.eval()
        try:
            done = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)
            for _ in range(max_new_tokens):
                logits, _ = self(idx[:, -self.cfg.seq_len:])
                logits = logits[:, -1, :].float()  # (B, vocab)
                if temperature == 0:
                    nxt = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
                else:
                    logits = logits / temperature
                    if top_k is not None:
                        kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]  # (B, 1)
                        logits = logits.masked_fill(logits < kth, float("-inf"))
                    nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)  # (B, 1)
                if eos_id is not None:
                    nxt = nxt.masked_fill(done[:, None], eos_id)
                    done |= nxt[:, 0] == eos_id
                idx = torch.cat((idx, nxt), dim=1)
                if eos_id is not None and bool(done.all()):
                    break
            return idx
        finally:
            self.train(was_training)

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: [matrices with weight_decay, everything else with 0], each in named_parameters order.

        Decayed: the 2-D weights of the attention and MLP projections, and lm_head when it is not tied. Not
        decayed: RMSNorm weights, biases (none today) and the token embedding, tied lm_head included; pulling
        rarely seen tokens' embeddings towards zero only hurts them.
        """
        decay, no_decay = [], []
        for name, p in self.named_parameters():  # a tied weight is listed once, as embed_tokens.weight
            if p.dim() >= 2 and not name.startswith("embed_tokens."):
                decay.append(p)
            else:
                no_decay.append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


# ----------------------------------------------------------------------------------------------------------------
# Sizes and costs, from the config alone (usable before building the model)


def _layer_matmul_params(cfg: GPTConfig) -> int:
    attn = 2 * cfg.d_model * cfg.n_head * cfg.head_dim + 2 * cfg.d_model * cfg.kv_heads * cfg.head_dim  # q, o + k, v
    mlp = 3 * cfg.d_model * cfg.ffn_dim  # gate, up, down
    return attn + mlp


def num_params(cfg: GPTConfig, non_embedding: bool = False) -> int:
    """Parameters of GPT(cfg), each stored tensor counted once (a tied lm_head adds nothing).

    non_embedding=True leaves out the vocab_size x d_model token embedding table (Kaplan et al.'s N); an untied
    lm_head stays in, as it is an ordinary matmul.
    """
    embedding = cfg.vocab_size * cfg.d_model
    lm_head = 0 if cfg.tie_embeddings else cfg.vocab_size * cfg.d_model
    norms = (2 * cfg.n_layer + 1) * cfg.d_model
    total = embedding + cfg.n_layer * _layer_matmul_params(cfg) + norms + lm_head
    return total - embedding if non_embedding else total


def flops_per_token(cfg: GPTConfig, seq_len: int) -> float:
    """Training FLOPs (forward + backward) per token: 6 * N + 12 * n_layer * d_model * seq_len.

    N counts every weight used in a matmul: the blocks' projections plus the output projection (vocab x d_model,
    whether or not it is tied). Each such weight costs 2 FLOPs per token forward and 4 backward, hence 6N.
    The second term is attention's own matmuls (q k^T and attn v: 2 * 2 * T * d per layer forward, x3 for
    backward), counted over the full T x T square as in the PaLM paper (appendix B) and nanoGPT's estimate_mfu.
    The token embedding lookup, norms, softmax and activations are left out. MFU = tokens/s * this / peak FLOP/s.
    """
    n_matmul = cfg.n_layer * _layer_matmul_params(cfg) + cfg.vocab_size * cfg.d_model
    return float(6 * n_matmul + 12 * cfg.n_layer * cfg.d_model * seq_len)


# ----------------------------------------------------------------------------------------------------------------
# Masked-LM corruption


def mlm_mask(tokens: torch.Tensor, mask_id: int, vocab_size: int, generator: Optional[torch.Generator],
             prob: float = 0.15, ignore_ids: Sequence[int] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT-style corruption of a batch of token ids. Returns (inputs, labels), both int64 and tokens' shape.

    Each position is selected with probability `prob`, except those holding a token in ignore_ids (e.g. PAD).
    labels hold the original token at selected positions and IGNORE_INDEX elsewhere. Of the selected positions,
    80% become mask_id, 10% a uniformly random token in [0, vocab_size) and 10% stay as they are, so the model
    cannot assume that an unmasked token is correct. Deterministic given the generator (which must live on
    tokens' device); None uses torch's global RNG.
    """
    tokens = tokens.long()
    device = tokens.device
    selected = torch.rand(tokens.shape, generator=generator, device=device) < prob
    if len(ignore_ids):
        selected &= ~torch.isin(tokens, torch.tensor(list(ignore_ids), dtype=torch.long, device=device))
    labels = torch.where(selected, tokens, torch.full_like(tokens, IGNORE_INDEX))
    # One uniform draw splits the selected positions 80 / 10 / 10.
    fate = torch.rand(tokens.shape, generator=generator, device=device)
    random_tokens = torch.randint(0, vocab_size, tokens.shape, generator=generator, device=device)
    inputs = torch.where(selected & (fate < 0.8), torch.full_like(tokens, mask_id), tokens)
    inputs = torch.where(selected & (fate >= 0.8) & (fate < 0.9), random_tokens, inputs)
    return inputs, labels

"""MinHash signatures and LSH band keys for near-duplicate detection, in plain numpy.

The signatures use datasketch 2.x's permutation scheme ("affine32": fmix32 of the shingle
hash, then h -> a*h + b mod 2^32 with datasketch's own (a, b) for the seed), so a
`datasketch.MinHash(num_perm, seed, hashfunc=...)` with the same shingle hash gives the
same hash values; tests/datapipe/test_minhash.py pins both shingle hashes:

  hash="fast" (default)  `fast_hash32`: a polynomial hash of the shingle's utf-8 bytes,
                         computed for all shingles of a text at once with numpy prefix
                         sums; datasketch agrees when given hashfunc=fast_hash32.
  hash="sha1"            datasketch's default sha1_hash32: bit-identical to a plain
                         `datasketch.MinHash(num_perm, seed)`, ~3.5x slower from text.

Shingles are n-grams of the document's words (or characters): by default (tokens="alnum") the
words are the runs of letters and digits of the NFKC-normalised, lower-cased text, so
punctuation, symbols and case do not count; tokens="whitespace" splits the lower-cased text on
whitespace and keeps punctuation inside the words (the behaviour before).

    text ──shingle_hashes──▶ uint32 shingle hashes ──signatures──▶ (n_docs, num_perm) uint32
         ──band_keys──▶ (n_docs, bands) uint64, where equal keys mark candidate pairs

Throughput on one core (bench/minhash_bench.py: 20k docs of ~2 KB, 262 word 5-grams
each, num_perm=128): datasketch permutes one document per numpy call, while `signatures`
permutes a whole batch in a few large, cache-sized blocks, ~0.04 us per shingle and ~20x
faster than MinHash.bulk. The shingle hash dominates: sha1 costs ~0.67 us per shingle
from text (hashlib plus one bytes object per shingle), the fast hash ~0.16 us. From text
to signature that is ~18k docs/s fast and ~5k docs/s sha1, against datasketch's ~4k docs/s
from pre-built shingles (~2.4k docs/s with shingling).
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from hashlib import sha1
from typing import Literal

import numpy as np

from raypretrain import compat

MAX_HASH = np.uint32(0xFFFFFFFF)  # datasketch's "empty" value: a document with no shingles
MAX_SHINGLES = 100_000
# Elements (shingles x permutations) handled per block: 2M uint32 = 8 MB, about L2/L3 size.
# Bigger blocks fall out of cache and get slower, smaller ones pay numpy call overhead.
BLOCK_ELEMENTS = 1 << 21


# --- shingling ---------------------------------------------------------------------------

Tokens = Literal["alnum", "whitespace"]
# A word for tokens="alnum" is a run of letters and digits: what `_ALNUM` finds (\w less "_").
# `_normalise` gets the same words faster: non-ASCII non-word characters become spaces in one
# regex pass, then every ASCII byte but a-z and 0-9 does (A-Z is lower-cased) in one
# bytes.translate (a test holds the two ways equal). Combining marks that NFKC cannot fold into a letter (Devanagari vowel
# signs, say) are no letters and end a word, in every document alike.
_ALNUM = re.compile(r"[^\W_]+")
_NON_ASCII_NON_WORD = re.compile(r"[^\x00-\x7f\w]+")
_ASCII_WORD_BYTES = bytes(b if (0x30 <= b <= 0x39 or 0x61 <= b <= 0x7A or b >= 0x80) else
                          b + 0x20 if 0x41 <= b <= 0x5A else 0x20 for b in range(256))  # A-Z lower-cased


def _normalise(text: str, tokens: Tokens = "alnum") -> bytes:
    """The words of `text`, joined by single spaces, as utf-8: the one normalisation both hash
    paths and `shingles` share, so the bytes the vectorised path hashes are the bytes `shingles`
    returns.

    tokens="alnum" (default): NFKC, lower-cased, words are the runs of letters and digits, so
    punctuation and symbols do not count ("end." and "end" are one word, "don't" two), as
    datatrove and text-dedup strip punctuation before shingling. tokens="whitespace": lower-cased
    and split on (unicode) whitespace, punctuation kept as part of the words.

    Lone surrogates (which `json.loads` can produce) are kept with "surrogatepass" rather
    than raising: they are encoded as 3-byte sequences of the usual shape (alnum drops them:
    they are no letters).
    """
    if tokens == "whitespace":
        return " ".join(text.lower().split()).encode("utf-8", "surrogatepass")
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():  # ASCII text is lower-cased by the table
        text = _NON_ASCII_NON_WORD.sub(" ", text.lower())
    return b" ".join(text.encode("utf-8", "surrogatepass").translate(_ASCII_WORD_BYTES).split())


def _check(n: int, kind: str, tokens: str = "alnum") -> None:
    if n < 1:
        raise ValueError(f"shingle size n must be >= 1, got {n}")
    if kind not in ("word", "char"):
        raise ValueError(f"shingle kind must be 'word' or 'char', got {kind!r}")
    if tokens not in ("alnum", "whitespace"):
        raise ValueError(f"tokens must be 'alnum' or 'whitespace', got {tokens!r}")


def _shingle_spans(norm: bytes, n: int, kind: Literal["word", "char"]) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) int64 byte offsets into `norm` of every shingle in order, repeats included.

    word: in normalised text the only byte 0x20 is the single space between words (utf-8
    continuation bytes are never ASCII, and neither tokenisation leaves a space inside a word),
    so the words are the runs between spaces.
    char: a code point starts at every byte that is not a continuation byte (10xxxxxx).
    Fewer than n words or code points: the whole text is one shingle; empty: none.
    """
    size = len(norm)
    if size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    buf = np.frombuffer(norm, dtype=np.uint8)
    if kind == "word":
        spaces = np.flatnonzero(buf == 32)
        n_units = len(spaces) + 1
        if n_units <= n:
            return np.zeros(1, np.int64), np.full(1, size, np.int64)
        starts = np.empty(n_units - n + 1, dtype=np.int64)
        starts[0] = 0
        np.add(spaces[:n_units - n], 1, out=starts[1:])
        ends = np.empty(n_units - n + 1, dtype=np.int64)
        ends[:-1] = spaces[n - 1:]
        ends[-1] = size
        return starts, ends
    # char
    if buf.max() < 0x80:  # ASCII: one byte per code point
        if size <= n:
            return np.zeros(1, np.int64), np.full(1, size, np.int64)
        starts = np.arange(size - n + 1, dtype=np.int64)
        return starts, starts + n
    cps = np.flatnonzero((buf & 0xC0) != 0x80)
    if len(cps) <= n:
        return np.zeros(1, np.int64), np.full(1, size, np.int64)
    bounds = np.append(cps, size)
    return bounds[:len(cps) - n + 1], bounds[n:]


def _raw_shingles(text: str, n: int, kind: Literal["word", "char"], tokens: Tokens = "alnum") -> list[bytes]:
    """All shingles in order, repeats included, of the words `_normalise` finds."""
    _check(n, kind, tokens)
    norm = _normalise(text, tokens)
    # The very spans the fast path hashes, so `fast_hash32` of these bytes is what it
    # computes; slicing is also ~1.4x faster than joining word lists.
    starts, ends = _shingle_spans(norm, n, kind)
    return [norm[s:e] for s, e in zip(starts.tolist(), ends.tolist())]


def shingles(text: str, n: int = 5, kind: Literal["word", "char"] = "word", tokens: Tokens = "alnum") -> list[bytes]:
    """The distinct shingles of `text` in first-seen order, as utf-8 bytes.

    word: n consecutive words joined by one space; a text of fewer than n words is one
    shingle. char: n consecutive code points of the words joined by single spaces. An empty
    text (or one without words) has none. Words are those of `tokens` (see `_normalise`).
    These bytes are what datasketch's MinHash.update sees, and what `fast_hash32` / the
    "fast" path of `shingle_hashes` hash.
    """
    return list(dict.fromkeys(_raw_shingles(text, n, kind, tokens)))


# The "fast" shingle hash. For a shingle's bytes s[0..L):
#     poly = sum (s[k] + 1) * B^k  (mod 2^64),   hash = top 32 bits of fmix64(poly)
# (fmix64 is MurmurHash3's 64-bit finalizer; the +1 makes a zero byte count, so a shingle
# and the same shingle followed by NULs differ.) The polynomial is a difference of prefix
# sums, so every shingle of a document costs a few numpy element operations: with
# P[i] = sum_{k<i} (t[k] + 1) B^k over the whole normalised text t, the shingle t[a:e]
# hashes to (P[e] - P[a]) * B^-a. B is odd, so B^-1 mod 2^64 exists, and two strings of
# one length that differ in one byte never collide before truncation. Known weakness of
# every polynomial hash mod 2^64: adversarial Thue-Morse strings of 2^11+ bytes collide
# for any base. Shingles of natural text are far shorter, and a forged collision only
# nudges a similarity estimate; this is not a hash for hostile inputs.
_MASK64 = (1 << 64) - 1
_FAST_BASE = 0xF1357AEA2E62A9C5
_FAST_BASE_INV = pow(_FAST_BASE, -1, 1 << 64)
_FMIX64_C1, _FMIX64_C2 = 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53
# Powers B^k and B^-k for k < len, cached up to this many entries (2 x 8 MB); bigger
# documents compute theirs per call.
_POWERS_CACHE_MAX = 1 << 20
_powers_cache: tuple[np.ndarray, np.ndarray] = (np.ones(1, np.uint64), np.ones(1, np.uint64))


def _power_table(base: int, size: int) -> np.ndarray:
    p = np.full(size, base, dtype=np.uint64)
    p[0] = 1
    return np.cumprod(p, out=p)  # uint64 products wrap: mod 2^64


def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(B^k, B^-k) mod 2^64 for k in [0, size) (at least), uint64."""
    global _powers_cache
    pw, ipw = _powers_cache
    if len(pw) >= size:
        return pw, ipw
    if size > _POWERS_CACHE_MAX:
        return _power_table(_FAST_BASE, size), _power_table(_FAST_BASE_INV, size)
    grown = min(_POWERS_CACHE_MAX, max(1 << 12, 1 << (size - 1).bit_length()))
    pw, ipw = _power_table(_FAST_BASE, grown), _power_table(_FAST_BASE_INV, grown)
    pw.flags.writeable = ipw.flags.writeable = False  # shared
    _powers_cache = (pw, ipw)  # one assignment: threads see the old or the new pair
    return pw, ipw


def _span_hash32(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """`fast_hash32` of each span buf[starts[i]:ends[i]], uint32."""
    size = len(buf)
    pw, ipw = _powers(size + 1)
    prefix = np.empty(size + 1, dtype=np.uint64)
    prefix[0] = 0
    terms = np.multiply(np.frombuffer(buf, dtype=np.uint8), pw[:size], dtype=np.uint64)
    terms += pw[:size]  # (byte + 1) * B^k: a zero byte still counts, so lengths differ
    np.cumsum(terms, out=prefix[1:])
    x = prefix[ends]
    x -= prefix[starts]
    x *= ipw[starts]
    # fmix64 without its last `h ^= h >> 33`, which cannot change the top 32 bits we keep.
    x ^= x >> np.uint64(33)
    x *= np.uint64(_FMIX64_C1)
    x ^= x >> np.uint64(33)
    x *= np.uint64(_FMIX64_C2)
    return (x >> np.uint64(32)).astype(np.uint32)


def fast_hash32(data: bytes) -> int:
    """The "fast" hash of one shingle's bytes, in pure Python: a slow reference.

    Exactly what `shingle_hashes(..., hash="fast")` computes for each shingle, so
    `datasketch.MinHash(num_perm, seed, hashfunc=fast_hash32)` updated with
    `shingles(text, n, kind)` has the same hashvalues as `signatures([shingle_hashes(text, n, kind)])`.
    """
    x, power = 0, 1
    for byte in data:
        x = (x + (byte + 1) * power) & _MASK64
        power = (power * _FAST_BASE) & _MASK64
    x ^= x >> 33
    x = (x * _FMIX64_C1) & _MASK64
    x ^= x >> 33
    x = (x * _FMIX64_C2) & _MASK64
    x ^= x >> 33
    return x >> 32


def _distinct_bottom_k(hashes: np.ndarray, max_shingles: int) -> np.ndarray:
    """Sorted distinct values, the smallest `max_shingles` of them.

    sort + mask is np.unique without its per-call cost."""
    hashes.sort()
    if len(hashes) > 1:
        hashes = hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]
    return hashes[:max_shingles]


def hash_shingles(shingle_bytes: Iterable[bytes], max_shingles: int = MAX_SHINGLES,
                  hash: Literal["fast", "sha1"] = "fast") -> np.ndarray:
    """Sorted distinct uint32 hashes of the shingles, at most `max_shingles`.

    hash="fast": `fast_hash32` of each, vectorised (one join, then numpy). hash="sha1":
    datasketch's default `sha1_hash32`, one hashlib call per shingle given (repeats are
    hashed again: pass distinct shingles when there are many).

    Huge documents keep only their `max_shingles` smallest hashes (a bottom-k sample).
    Why: every distinct shingle is one 32-bit value, and a document with tens of millions
    of them fills so much of the 2^32 space that unrelated documents share values by chance
    and look similar (datasketch warns about this near 1e8 elements); it also bounds the
    permutation work per document. Why this sample: it is chosen by a hash, so a shingle is
    kept or dropped alike in every document that contains it. Below the lower of two
    documents' cut-offs both keep exactly their shingles with smaller hashes: a uniform
    random sample of the union, whose shared fraction is still the Jaccard. Shingles
    between the two cut-offs are in one sample only, so they can lower the estimate but
    never raise it; near-identical documents have near-equal cut-offs.
    """
    if hash == "fast":
        items = shingle_bytes if isinstance(shingle_bytes, (list, tuple)) else list(shingle_bytes)
        ends = np.cumsum(np.fromiter(map(len, items), dtype=np.int64, count=len(items)))
        starts = np.empty_like(ends)
        starts[:1] = 0
        starts[1:] = ends[:-1]
        hashes = _span_hash32(b"".join(items), starts, ends)
    elif hash == "sha1":
        # Joining the full digests and striding over them is ~20% faster than slicing each
        # digest in Python; the first 4 digest bytes read little-endian are exactly
        # datasketch's sha1_hash32.
        digests = b"".join([sha1(s).digest() for s in shingle_bytes])
        hashes = np.frombuffer(digests, dtype="<u4")[::5].astype(np.uint32)
    else:
        raise ValueError(f"hash must be 'fast' or 'sha1', got {hash!r}")
    return _distinct_bottom_k(hashes, max_shingles)


def shingle_hashes(text: str, n: int = 5, kind: Literal["word", "char"] = "word",
                   max_shingles: int = MAX_SHINGLES, hash: Literal["fast", "sha1"] = "fast",
                   tokens: Tokens = "alnum") -> np.ndarray:
    """`hash_shingles(shingles(text, n, kind, tokens), max_shingles, hash)`, without building the
    shingles: sorted distinct uint32 hashes, at most `max_shingles` (the smallest).

    hash="fast" (default): the text is normalised and encoded once, the shingles' byte
    spans are found with numpy and hashed as prefix-sum differences (`fast_hash32`), with
    no Python object per shingle. hash="sha1": datasketch's default hash, so the signatures
    are those of a plain `datasketch.MinHash(num_perm, seed)`; ~3.5x slower from text.
    Batch and streaming near-dedup both get their signatures from here.
    """
    if hash == "fast":
        _check(n, kind, tokens)
        norm = _normalise(text, tokens)
        starts, ends = _shingle_spans(norm, n, kind)
        if len(starts) == 0:
            return np.empty(0, dtype=np.uint32)
        return _distinct_bottom_k(_span_hash32(norm, starts, ends), max_shingles)
    if hash == "sha1":
        # A set costs ~0.07 us per shingle and saves a ~0.5 us sha1 per repeat (boilerplate).
        return hash_shingles(set(_raw_shingles(text, n, kind, tokens)), max_shingles, hash="sha1")
    raise ValueError(f"hash must be 'fast' or 'sha1', got {hash!r}")


# --- signatures --------------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def permutations(num_perm: int = 128, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) uint32 parameters of h -> a*h + b mod 2^32, taken from datasketch itself
    so that they are drawn exactly as it draws them from `seed`."""
    # heavy (~0.3 s over numpy and scipy): python -m datapipe --help and datapipe.inspect go without it
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=seed, scheme="affine32")
    a, b = (np.ascontiguousarray(p, dtype=np.uint32) for p in m.permutations)
    a.flags.writeable = b.flags.writeable = False  # shared through the cache
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, datasketch's pre-mix before the affine permutations.

    uint32 arithmetic wraps, which is the intended mod 2^32.
    """
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures(docs_shingle_hashes: Sequence[np.ndarray], num_perm: int = 128, seed: int = 1,
               block_elements: int = BLOCK_ELEMENTS) -> np.ndarray:
    """MinHash signatures (n_docs, num_perm) uint32 of a batch of documents.

    Each input is one document's uint32 shingle hashes (from `shingle_hashes`); repeats are
    harmless. A document without shingles gets all MAX_HASH, as datasketch does. Memory
    beyond the inputs and output is one block of `block_elements` uint32.
    """
    a, b = permutations(num_perm, seed)
    n_docs = len(docs_shingle_hashes)
    out = np.full((n_docs, num_perm), MAX_HASH, dtype=np.uint32)
    lengths = np.fromiter((len(h) for h in docs_shingle_hashes), dtype=np.int64, count=n_docs)
    docs = np.flatnonzero(lengths)  # empty documents keep the sentinel
    if len(docs) == 0:
        return out
    flat = fmix32(np.concatenate([docs_shingle_hashes[d] for d in docs]).astype(np.uint32, copy=False))
    ends = np.cumsum(lengths[docs])
    starts = ends - lengths[docs]
    # Blocks cut the flat array at fixed sizes, not at document boundaries, so a document
    # may span blocks; its partial minima are folded into `out` block by block.
    cols = max(1, block_elements // num_perm)
    buf = np.empty((num_perm, cols), dtype=np.uint32)
    a_col, b_col = a[:, None], b[:, None]
    for lo in range(0, len(flat), cols):
        hi = min(lo + cols, len(flat))
        first = np.searchsorted(ends, lo, side="right")  # first document ending after lo
        last = np.searchsorted(starts, hi, side="left")  # one past the last starting before hi
        block = buf[:, :hi - lo]
        # Permutation-major layout: each permutation's values are contiguous, so the
        # multiply, add and per-document min all run over long contiguous rows.
        np.multiply(a_col, flat[lo:hi], out=block)
        np.add(block, b_col, out=block)
        seg = np.maximum(starts[first:last] - lo, 0)
        mins = np.minimum.reduceat(block, seg, axis=1).T  # (docs in block, num_perm)
        rows = docs[first:last]
        out[rows] = np.minimum(out[rows], mins)
    return out


# --- LSH ---------------------------------------------------------------------------------

def s_curve(j, bands: int, rows: int):
    """Probability that two documents of Jaccard `j` share at least one band."""
    return 1.0 - (1.0 - np.asarray(j, dtype=np.float64) ** rows) ** bands


def _optimal_param_numpy(threshold: float, num_perm: int, fp_weight: float, fn_weight: float) -> tuple[int, int]:
    """datasketch's `_optimal_param` with a fixed-grid integral instead of scipy's quad."""
    def area(y: np.ndarray, width: float) -> float:  # trapezoid rule on an even grid
        return width / (len(y) - 1) * (y.sum() - (y[0] + y[-1]) / 2)

    best, opt = float("inf"), (0, 0)
    below = np.linspace(0.0, threshold, 2001)
    above = np.linspace(threshold, 1.0, 2001)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = area(s_curve(below, b, r), threshold)
            fn = area(1.0 - s_curve(above, b, r), 1.0 - threshold)
            error = fp * fp_weight + fn * fn_weight
            if error < best:
                best, opt = error, (b, r)
    return opt


@functools.lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, false_positive_weight: float = 0.5,
                  false_negative_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive and negative areas under the
    S-curve: the same choice as datasketch.MinHashLSH(threshold, num_perm, weights)."""
    try:
        _optimal_param = compat.datasketch_optimal_param
    except ImportError:  # private to datasketch; keep working if it moves
        _optimal_param = _optimal_param_numpy
    return tuple(_optimal_param(threshold, num_perm, false_positive_weight, false_negative_weight))


_P1, _P2, _P3 = np.uint64(0x9E3779B185EBCA87), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9)


def _rotl31(x: np.ndarray) -> np.ndarray:
    return (x << np.uint64(31)) | (x >> np.uint64(33))


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """A 64-bit key per (document, band): equal keys mean an equal band, with probability
    ~2^-64 of a false match. Band i covers signature columns [i*rows, (i+1)*rows), as in
    datasketch. The band index is hashed in, so all bands can share one key space.

    The hash is xxHash64's lane round and avalanche, over the band's values packed in
    pairs into uint64 lanes: each round is a bijection of the state, so two bands that
    differ in one lane always get different keys, and neither do equal values in
    different bands (their states start apart and every round keeps them apart).
    """
    n, num_perm = sigs.shape
    if bands * rows > num_perm:
        raise ValueError(f"bands*rows = {bands}*{rows} exceeds num_perm {num_perm}")
    v = sigs[:, :bands * rows].reshape(n, bands, rows).astype(np.uint64)
    if rows % 2:
        v = np.concatenate([v, np.zeros((n, bands, 1), dtype=np.uint64)], axis=2)
    lanes = v[:, :, 0::2] | (v[:, :, 1::2] << np.uint64(32))  # (n, bands, ceil(rows/2))
    acc = np.broadcast_to((np.arange(bands, dtype=np.uint64) + np.uint64(1)) * _P3, (n, bands)).copy()
    for k in range(lanes.shape[2]):
        acc = _rotl31(acc + lanes[:, :, k] * _P2) * _P1
    acc ^= acc >> np.uint64(33)
    acc *= _P2
    acc ^= acc >> np.uint64(29)
    acc *= _P3
    acc ^= acc >> np.uint64(32)
    return acc


# --- estimates ---------------------------------------------------------------------------

def jaccard_estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Share of equal signature values: the MinHash estimate of the Jaccard similarity."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)


def estimate_pairs(sigs: np.ndarray, i_idx: np.ndarray, j_idx: np.ndarray, block: int = 1 << 16) -> np.ndarray:
    """`jaccard_estimate(sigs[i], sigs[j])` for each pair, float64; blocked so that a
    million candidate pairs do not materialise a million-row comparison at once."""
    i_idx, j_idx = np.asarray(i_idx), np.asarray(j_idx)
    out = np.empty(len(i_idx), dtype=np.float64)
    for lo in range(0, len(i_idx), block):
        eq = sigs[i_idx[lo:lo + block]] == sigs[j_idx[lo:lo + block]]
        out[lo:lo + block] = eq.mean(axis=1)
    return out

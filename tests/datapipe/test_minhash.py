import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.hashfunc import sha1_hash32

from datapipe import minhash as mh

DOCS = [
    "The quick brown fox jumps over the lazy dog, and the dog sleeps on.",
    "the QUICK brown fox jumps over the lazy dog,\n\tand the cat sleeps on.",
    "",
    "   \n ",
    "two words",
    "Ünïcode façade — naïve café; 東京 は 大きい 都市 です . .",
    "a a a a a a a a a a a a a a a b",  # repeated shingles
]


def words_doc(rng: np.random.Generator, n_words: int, vocab_size: int = 20_000) -> list[str]:
    return [f"w{i}" for i in rng.integers(0, vocab_size, n_words)]


def datasketch_sig(shingle_bytes: list[bytes], num_perm: int, seed: int, hashfunc=None) -> np.ndarray:
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=hashfunc)
    m.update_batch(shingle_bytes)
    return m.hashvalues


@pytest.mark.parametrize("tokens", ["alnum", "whitespace"])
@pytest.mark.parametrize("num_perm,seed", [(128, 1), (256, 1), (128, 42), (256, 7)])
@pytest.mark.parametrize("kind,n", [("word", 5), ("word", 1), ("char", 5)])
def test_sha1_signatures_identical_to_plain_datasketch(num_perm, seed, kind, n, tokens):
    sigs = mh.signatures([mh.shingle_hashes(d, n, kind, hash="sha1", tokens=tokens) for d in DOCS], num_perm, seed)
    assert sigs.shape == (len(DOCS), num_perm) and sigs.dtype == np.uint32
    for doc, sig in zip(DOCS, sigs):
        np.testing.assert_array_equal(sig, datasketch_sig(mh.shingles(doc, n, kind, tokens), num_perm, seed))


def random_text(rng: np.random.Generator) -> str:
    """Mixed-case words of ASCII, Latin-1, CJK, emoji, combining marks, NUL and a lone
    surrogate, joined by runs of every kind of whitespace str.split knows (ASCII, \x1c-\x1f,
    NBSP, ideographic space, line separator...); sometimes empty or only a few words."""
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789.,;:!?'\"-()") + \
        list("éÉüÜßñçÆøİ东京は大きい都市ですΣσς") + ["😀", "👍🏽", "e\u0301", "\x00", "\x7f", "\ud800"]
    spaces = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0",
              "\u2003", "\u3000", "\u2028", " \n\t "]
    n_words = int(rng.choice([0, 1, 2, 4, 5, 6, 30, 200]))
    words = ["".join(rng.choice(alphabet, int(rng.integers(1, 9)))) for _ in range(n_words)]
    seps = [str(rng.choice(spaces)) for _ in range(n_words + 1)]
    return seps[0] + "".join(w + s for w, s in zip(words, seps[1:]))


@pytest.mark.parametrize("tokens", ["alnum", "whitespace"])
@pytest.mark.parametrize("num_perm,seed", [(128, 1), (256, 42)])
@pytest.mark.parametrize("kind,n", [("word", 5), ("word", 1), ("word", 3), ("char", 5), ("char", 1)])
def test_fast_signatures_identical_to_datasketch_with_fast_hashfunc(num_perm, seed, kind, n, tokens):
    """The fast path's hashes are `fast_hash32` of exactly the bytes `shingles` returns, so
    datasketch, given that hash function, computes the same signatures bit for bit."""
    rng = np.random.default_rng(seed * 100 + n)
    docs = DOCS + [random_text(rng) for _ in range(60)]
    hashes = [mh.shingle_hashes(d, n, kind, tokens=tokens) for d in docs]
    sigs = mh.signatures(hashes, num_perm, seed)
    for doc, h, sig in zip(docs, hashes, sigs):
        sh = mh.shingles(doc, n, kind, tokens)
        np.testing.assert_array_equal(h, np.unique(np.array([mh.fast_hash32(s) for s in sh], dtype=np.uint32)))
        np.testing.assert_array_equal(h, mh.hash_shingles(sh))
        np.testing.assert_array_equal(sig, datasketch_sig(sh, num_perm, seed, hashfunc=mh.fast_hash32))


def test_fast_hash_of_edge_case_shingles():
    """Long words (spans far beyond one machine word), NULs, single bytes: the vectorised
    hash of each span equals the reference, and distinct inputs hash apart."""
    items = [b"", b"\x00", b"\x00\x00", b"a", b"a\x00", b"\x00a", b"ab", b"ba", b"x" * 5000,
             b"x" * 4999 + b"y", bytes(range(256)) * 40, "東京 😀".encode()]
    expect = np.array([mh.fast_hash32(s) for s in items], dtype=np.uint32)
    np.testing.assert_array_equal(mh.hash_shingles(items, max_shingles=10**9), np.unique(expect))
    assert len(np.unique(expect)) == len(items)
    long_word = "Z" * 20_000
    assert mh.shingle_hashes(f"{long_word} b", n=1).tolist() == sorted(
        [mh.fast_hash32(long_word.lower().encode()), mh.fast_hash32(b"b")])


def test_fast_hash_has_no_more_collisions_than_a_random_32_bit_hash():
    """1M distinct shingles into 2^32 values: a random function loses ~N^2/2^33 = 116 of
    them to collisions (sd ~11). Structured inputs (sequential numbers, one-character
    shifts of random text) are what break weak hashes."""
    n = 1_000_000
    expected = n * (n - 1) / 2 / 2**32
    text = " ".join(f"w{i}" for i in range(n + 4))  # 1M distinct word 5-grams
    lost = n - len(mh.shingle_hashes(text, max_shingles=10**9))
    assert lost <= expected + 6 * expected**0.5, lost
    rng = np.random.default_rng(5)
    chars = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz "), n + 11))
    distinct = len(set(mh._raw_shingles(chars, 12, "char")))
    assert distinct > 0.99 * n
    lost = distinct - len(mh.shingle_hashes(chars, n=12, kind="char", max_shingles=10**9))
    expected = distinct * (distinct - 1) / 2 / 2**32
    assert lost <= expected + 6 * expected**0.5, lost


def test_shingling_survives_lone_surrogates_and_rejects_bad_arguments():
    text = "a \ud800 b c d e f"  # json.loads can produce these
    assert mh.shingles(text, n=2, tokens="whitespace")[1] == "\ud800 b".encode("utf-8", "surrogatepass")
    assert mh.shingles(text, n=2)[1] == b"b c"  # no letter, so no word of its own
    for hash_ in ("fast", "sha1"):
        assert len(mh.shingle_hashes(text, n=2, hash=hash_, tokens="whitespace")) == 6
        assert len(mh.shingle_hashes(text, n=2, hash=hash_)) == 5
        assert len(mh.shingle_hashes(text, n=2, kind="char", hash=hash_)) > 0
        with pytest.raises(ValueError, match="tokens"):
            mh.shingle_hashes("abc", hash=hash_, tokens="words")
    with pytest.raises(ValueError):
        mh.shingle_hashes("abc", hash="md5")
    with pytest.raises(ValueError):
        mh.hash_shingles([b"abc"], hash="md5")
    for hash_ in ("fast", "sha1"):
        with pytest.raises(ValueError):
            mh.shingle_hashes("abc", n=0, hash=hash_)
        with pytest.raises(ValueError):
            mh.shingle_hashes("abc", kind="byte", hash=hash_)


@pytest.mark.parametrize("hash_", ["fast", "sha1"])
def test_empty_doc_gets_datasketch_empty_sentinel(hash_):
    assert mh.shingle_hashes("", hash=hash_).dtype == np.uint32
    sigs = mh.signatures([mh.shingle_hashes("", hash=hash_), mh.shingle_hashes("x", hash=hash_)], 64)
    assert (sigs[0] == mh.MAX_HASH).all() and not (sigs[1] == mh.MAX_HASH).all()
    assert MinHash(num_perm=64, hashvalues=sigs[0], scheme="affine32").is_empty()
    assert mh.signatures([], 64).shape == (0, 64)
    assert (mh.signatures([np.array([], np.uint32)] * 3, 8) == mh.MAX_HASH).all()


def test_blocking_does_not_change_signatures():
    """Documents spanning block boundaries, tiny blocks and empty documents in between."""
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 2**32, size, dtype=np.uint32) for size in (0, 1, 7, 300, 0, 2, 1000, 5)]
    a, b = mh.permutations(32, 3)
    brute = np.array([(a[None] * mh.fmix32(h)[:, None] + b[None]).min(axis=0) if len(h) else
                      np.full(32, mh.MAX_HASH) for h in docs], dtype=np.uint32)
    for block in (32, 32 * 3, 32 * 64, mh.BLOCK_ELEMENTS):
        np.testing.assert_array_equal(mh.signatures(docs, 32, 3, block_elements=block), brute)


def test_word_shingles_of_short_and_repetitive_docs():
    assert mh.shingles("") == [] and mh.shingles(" \n\t") == []
    assert mh.shingles("A  b\nC") == [b"a b c"]  # fewer than n words: one shingle
    assert mh.shingles("one two three four five") == [b"one two three four five"]
    assert mh.shingles("one two three four five six") == [b"one two three four five", b"two three four five six"]
    assert len(mh.shingles("x " * 100)) == 1  # the set of distinct shingles
    assert mh.shingles("Done. done", n=1) == [b"done"]  # words are letters and digits
    assert mh.shingles("Done. done", n=1, tokens="whitespace") == [b"done.", b"done"]  # punctuation stays
    assert mh.shingles("Café naïve", n=1) == ["café".encode(), "naïve".encode()]


def test_alnum_words_ignore_punctuation_symbols_case_and_compatibility_forms():
    text = "“Hello,” said the ﬁrst ＣＡＦÉ — it's 3.5 km (e-mail: a_b@x.org)!"
    assert mh.shingles(text, n=1) == [w.encode() for w in
                                      "hello said the first café it s 3 5 km e mail a b x org".split()]
    assert mh.shingles(text, n=1, tokens="whitespace")[0] == "“hello,”".encode()
    # the same sentence punctuated differently is the same document to alnum, not to whitespace
    a = "Well, the river rose; the town flooded. Nobody was hurt, thankfully!"
    b = "Well the river rose - the town flooded... nobody was hurt (thankfully)."
    assert mh.shingles(a) == mh.shingles(b)
    np.testing.assert_array_equal(mh.shingle_hashes(a), mh.shingle_hashes(b))
    assert not set(mh.shingles(a, tokens="whitespace")) & set(mh.shingles(b, tokens="whitespace"))


def test_alnum_words_are_the_runs_of_letters_and_digits():
    """`_normalise`'s fast path (a regex over non-ASCII, one bytes.translate) finds exactly the
    words the definition names, on mixed scripts, compatibility forms and odd whitespace."""
    import unicodedata

    rng = np.random.default_rng(9)
    texts = DOCS + [random_text(rng) for _ in range(500)] + [
        "İstanbul ǅemal ² ½ Ｆｕｌｌ x_y\u2028a\u00a0b\x1cc \ud800 नमस्ते ﬁ ß ẞ ΣΑΣ « — » …"]
    for text in texts:
        words = mh._ALNUM.findall(unicodedata.normalize("NFKC", text).lower())
        assert mh._normalise(text) == " ".join(words).encode("utf-8", "surrogatepass"), repr(text)


def test_whitespace_tokens_are_the_old_shingles():
    """tokens="whitespace" is what shingling was: lower-cased, whitespace-split, punctuation kept."""
    for doc in DOCS:
        words = doc.lower().split()
        old = [" ".join(words[i:i + 3]).encode() for i in range(max(1, len(words) - 2))] if words else []
        assert mh.shingles(doc, 3, tokens="whitespace") == list(dict.fromkeys(old))


def test_near_dedup_config_tokens():
    from datapipe.config import NearDedupConfig
    from raypretrain.config import ConfigError, from_dict

    assert NearDedupConfig().tokens == "alnum"
    assert from_dict(NearDedupConfig, {"tokens": "whitespace"}).tokens == "whitespace"
    with pytest.raises(ConfigError, match="tokens"):
        from_dict(NearDedupConfig, {"tokens": "words"})


def test_char_shingles():
    assert mh.shingles("abcdef", n=3, kind="char") == [b"abc", b"bcd", b"cde", b"def"]
    assert mh.shingles("Ab \n C", n=5, kind="char") == [b"ab c"]  # normalised, shorter than n
    assert mh.shingles("", n=3, kind="char") == []
    assert mh.shingles("ééé", n=2, kind="char") == ["éé".encode()]  # code points, not bytes
    with pytest.raises(ValueError):
        mh.shingles("abc", kind="byte")


def test_hashes_are_datasketch_sha1_and_capped_by_bottom_k():
    text = " ".join(words_doc(np.random.default_rng(1), 500))
    sh = mh.shingles(text)
    full = mh.hash_shingles(sh, max_shingles=10**9, hash="sha1")
    np.testing.assert_array_equal(full, np.unique([sha1_hash32(s) for s in sh]).astype(np.uint32))
    capped = mh.hash_shingles(sh, max_shingles=50, hash="sha1")
    np.testing.assert_array_equal(capped, full[:50])
    np.testing.assert_array_equal(mh.shingle_hashes(text, max_shingles=50, hash="sha1"), capped)


def test_fast_hashes_are_capped_by_bottom_k():
    text = " ".join(words_doc(np.random.default_rng(1), 500)) + " " + text_repeat("x", 50)
    full = mh.shingle_hashes(text, max_shingles=10**9)
    np.testing.assert_array_equal(full, np.unique([mh.fast_hash32(s) for s in mh.shingles(text)]))
    np.testing.assert_array_equal(mh.shingle_hashes(text, max_shingles=50), full[:50])
    np.testing.assert_array_equal(mh.hash_shingles(mh.shingles(text), max_shingles=50), full[:50])


def text_repeat(word: str, times: int) -> str:
    return " ".join([word] * times)


def test_optimal_bands_agree_with_datasketch_lsh():
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    assert mh.optimal_bands(0.8, 128) == (lsh.b, lsh.r)
    for threshold, num_perm, weights in [(0.8, 128, (0.5, 0.5)), (0.7, 256, (0.5, 0.5)), (0.9, 128, (0.3, 0.7))]:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
        assert mh._optimal_param_numpy(threshold, num_perm, *weights) == (lsh.b, lsh.r)


def test_s_curve_is_monotone_and_pinned_at_the_ends():
    j = np.linspace(0, 1, 201)
    p = mh.s_curve(j, 9, 13)
    assert (np.diff(p) >= 0).all() and p[0] == 0.0 and p[-1] == 1.0
    assert mh.s_curve(0.5, 9, 13) < 0.01 < 0.99 < mh.s_curve(0.95, 9, 13)


@pytest.mark.parametrize("bands,rows", [(9, 13), (16, 8), (42, 3)])
def test_band_keys(bands, rows):
    rng = np.random.default_rng(2)
    sigs = rng.integers(0, 2**32, (50, 128), dtype=np.uint32)
    keys = mh.band_keys(sigs, bands, rows)
    assert keys.shape == (50, bands) and keys.dtype == np.uint64
    np.testing.assert_array_equal(mh.band_keys(sigs.copy(), bands, rows), keys)
    assert len(np.unique(keys)) == keys.size  # random bands: no collisions
    same = np.tile(sigs[:1, :rows], (1, 128 // rows + 1))[:, :128]  # every band holds the same values
    assert len(np.unique(mh.band_keys(same, bands, rows))) == bands
    changed = sigs[:1].copy()
    changed[0, rows + 1] += 1  # inside band 1 only
    diff = mh.band_keys(changed, bands, rows) != keys[:1]
    assert diff[0].tolist() == [i == 1 for i in range(bands)]
    with pytest.raises(ValueError):
        mh.band_keys(sigs, 20, 7)


def shared_band(sig_a, sig_b, threshold=0.8, num_perm=128) -> bool:
    keys = mh.band_keys(np.stack([sig_a, sig_b]), *mh.optimal_bands(threshold, num_perm))
    return bool((keys[0] == keys[1]).any())


@pytest.mark.parametrize("hash_", ["fast", "sha1"])
def test_unrelated_2mb_docs_are_not_flagged(hash_):
    a, b = (" ".join(words_doc(np.random.default_rng(seed), 320_000)) for seed in (10, 11))
    assert len(a) > 2_000_000 and len(b) > 2_000_000
    ha, hb = mh.shingle_hashes(a, hash=hash_), mh.shingle_hashes(b, hash=hash_)
    assert len(ha) == len(hb) == mh.MAX_SHINGLES  # the cap is in play
    sigs = mh.signatures([ha, hb], 128)
    assert mh.jaccard_estimate(sigs[0], sigs[1]) < 0.05
    assert not shared_band(sigs[0], sigs[1])


def test_near_identical_huge_docs_keep_their_similarity_under_the_cap():
    words = words_doc(np.random.default_rng(12), 300_000)
    edited = list(words)
    for i in range(0, len(edited), 500):  # ~1% of 5-grams touched: Jaccard ~0.98
        edited[i] = "edit"
    sigs = mh.signatures([mh.shingle_hashes(" ".join(words)), mh.shingle_hashes(" ".join(edited))], 128)
    assert mh.jaccard_estimate(sigs[0], sigs[1]) > 0.9
    assert shared_band(sigs[0], sigs[1])


@pytest.mark.parametrize("hash_", ["fast", "sha1"])
def test_planted_pair_estimate_within_tolerance(hash_):
    words = words_doc(np.random.default_rng(3), 2000)
    edited = list(words)
    for i in range(40, 2000, 95):  # 21 substitutions, each touching 5 five-grams
        edited[i] = "planted"
    a, b = set(mh.shingles(" ".join(words))), set(mh.shingles(" ".join(edited)))
    exact = len(a & b) / len(a | b)
    assert 0.85 < exact < 0.95
    sigs = mh.signatures([mh.hash_shingles(a, hash=hash_), mh.hash_shingles(b, hash=hash_)], num_perm=256)
    assert abs(mh.jaccard_estimate(sigs[0], sigs[1]) - exact) <= 0.08
    text_sigs = mh.signatures([mh.shingle_hashes(" ".join(w), hash=hash_) for w in (words, edited)], num_perm=256)
    np.testing.assert_array_equal(text_sigs, sigs)


def test_estimate_pairs_matches_single_estimates():
    rng = np.random.default_rng(4)
    sigs = rng.integers(0, 4, (30, 64), dtype=np.uint32)
    i, j = rng.integers(0, 30, 100), rng.integers(0, 30, 100)
    expect = [mh.jaccard_estimate(sigs[x], sigs[y]) for x, y in zip(i, j)]
    np.testing.assert_allclose(mh.estimate_pairs(sigs, i, j, block=7), expect)
    assert mh.estimate_pairs(sigs, [], []).shape == (0,)

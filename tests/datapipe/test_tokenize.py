import numpy as np
import pytest

from datapipe.config import TokenizeConfig
from datapipe.tokenize import encode, from_json, token_dtype, tokenizer_sha256, train_tokenizer
from raypretrain.config import ConfigError

TEXTS = ["Hello world, this is a test.", "Ünïcödé text — with emoji 🚀 and\nnewlines.", "numbers 12345 " * 20]


@pytest.fixture(scope="module")
def tok():
    t = train_tokenizer(TEXTS * 50, TokenizeConfig(vocab_size=400))
    return from_json(t.to_str(), TokenizeConfig())


def test_round_trip_and_eos(tok):
    eos = tok.token_to_id("<|endoftext|>")
    flat, lengths = encode(tok, TEXTS, eos)
    assert flat.dtype == np.uint32 and lengths.sum() == len(flat)
    ends = np.cumsum(lengths)
    for text, end, n in zip(TEXTS, ends, lengths):
        assert flat[end - 1] == eos
        assert tok.decode(flat[end - n:end - 1].tolist()) == text


def test_text_cannot_forge_special_tokens(tok):
    eos, pad = tok.token_to_id("<|endoftext|>"), tok.token_to_id("<|pad|>")
    flat, _ = encode(tok, ["before <|endoftext|> after <|pad|>"], eos)
    assert list(flat).count(eos) == 1 and pad not in flat
    assert tok.decode(flat[:-1].tolist()) == "before <|endoftext|> after <|pad|>"


def test_tokenizer_without_our_specials_is_refused():
    t = train_tokenizer(TEXTS, TokenizeConfig(vocab_size=300, eos_token="<eos>", pad_token="<pad>"))
    with pytest.raises(ConfigError, match="no '<\\|endoftext\\|>' token"):
        from_json(t.to_str(), TokenizeConfig())


def test_dtype_and_hash():
    assert token_dtype(65536) == np.uint16 and token_dtype(65537) == np.uint32
    assert tokenizer_sha256("a") != tokenizer_sha256("b")

"""The sample corpus: seeded, counted, and every kind leaves through the door its id names."""
import gzip
import itertools
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

import pytest

from datapipe import sample
from datapipe.clean import clean_text, normalize
from datapipe.config import CleanConfig, ReadConfig, SourceConfig
from raypretrain.config import ConfigError
from raypretrain.storage import resolve
from datapipe.read import read_file

KEPT = ("good", "dup", "near", "no_id")
JUNK_FILTER = {
    "junk_short": "gopher_quality",
    "junk_symbols": "gopher_quality",
    "junk_repetition": "gopher_repetition",
    "junk_c4": "c4",
    "junk_fineweb": "fineweb",
    "junk_lang": "lang_id",
    "junk_consent": "boilerplate",
}
REJECT_REASON = {
    "bad_json": "malformed_json",
    "bad_utf8": "invalid_utf8",
    "bad_missing_text": "missing_text",
    "bad_text_type": "text_not_string",
    "bad_binary": "binary_content",
    "too_large": "too_large",
}
# The id as written, also in the lines that are not valid JSON (single quotes, truncation).
_ID = re.compile(rb"""["']id["']: ["']([a-z0-9_]+)-(\d{6})["']""")


def line_kind(line: bytes) -> str:
    m = _ID.search(line)
    return m.group(1).decode() if m else "no_id"


def shingles(text: str, n: int = 5) -> set:
    """Word 5-grams of the words alone (punctuation and case dropped), unlike sample.shingles."""
    words = re.findall(r"\w+", text.lower())
    return set(zip(*(words[i:] for i in range(n))))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


@pytest.fixture(scope="module")
def corpus():
    """generate(600, seed=1) as (kind, record or None) pairs."""
    out = []
    for line in sample.generate(600, seed=1):
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            record = None
        out.append((line_kind(line), record))
    return out


def texts(corpus, kind):
    return [r for k, r in corpus if k == kind]


@pytest.mark.parametrize("n_docs", [20, 50, 199, 200, 1000])
def test_kind_counts_add_up_and_match_the_lines(n_docs):
    counts = sample.kind_counts(n_docs)
    assert sum(counts.values()) == n_docs
    assert all(counts[k] >= 1 for k in sample.KINDS if k != "too_large")
    assert counts["too_large"] == (n_docs >= 200)
    lines = sample.generate(n_docs, seed=3)
    assert len(lines) == n_docs
    assert all(line and b"\n" not in line for line in lines)
    assert Counter(map(line_kind, lines)) == {k: v for k, v in counts.items() if v}
    # ids are unique; the kind prefix is followed by a per-kind counter from 0
    ids = [_ID.search(line).group(0) for line in lines if _ID.search(line)]
    assert len(ids) == len(set(ids))


def test_shares_of_a_large_corpus():
    counts = sample.kind_counts(3000)
    assert counts["good"] / 3000 == pytest.approx(0.70, abs=0.02)
    assert counts["dup"] == 240 and counts["near"] == 210
    # the consent pages came with their own 2%, so the other junk kinds kept their 10%
    assert counts["junk_consent"] == 60 and sum(counts[k] for k in JUNK_FILTER) == 300 + 60
    assert sum(counts[k] for k in REJECT_REASON) + counts["no_id"] == 91


def test_too_few_docs_is_an_error():
    with pytest.raises(ValueError, match="at least 20"):
        sample.generate(19)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    assert sample.generate(300, seed=5) == sample.generate(300, seed=5)
    assert sample.generate(300, seed=5) != sample.generate(300, seed=6)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert sample.write_corpus(a, 300, seed=5) == sample.write_corpus(b, 300, seed=5)
    assert a.read_bytes() == b.read_bytes() == b"\n".join(sample.generate(300, seed=5)) + b"\n"


def test_good_documents_look_like_prose(corpus):
    good = [r["text"] for r in texts(corpus, "good") + texts(corpus, "no_id")]
    for text in good:
        assert normalize(text) == text
        paragraphs = text.split("\n\n")
        assert 3 <= len(paragraphs) <= 8
        for p in paragraphs:
            assert "\n" not in p and p.endswith((".", "!", "?"))
            assert 2 <= len(re.findall(r"[.!?](?= |$)", p)) <= 5
        words = text.split()
        assert 150 <= len(words) <= 600
        assert 4 <= sum(map(len, words)) / len(words) <= 6
        assert not re.search(r"[{}]|lorem ipsum|javascript|cookie|privacy|terms of", text, re.I)
        assert len(set(paragraphs)) == len(paragraphs)
    assert len(set(good)) == len(good)


def test_unrelated_good_documents_share_few_5grams(corpus):
    sets = {r["id"]: shingles(r["text"]) for r in texts(corpus, "good")}
    shared = Counter()
    owners = defaultdict(list)
    for doc_id, grams in sets.items():
        for g in grams:
            owners[g].append(doc_id)
    for ids in owners.values():
        shared.update(itertools.combinations(ids, 2))
    worst = max(shared[a, b] / len(sets[a] | sets[b]) for a, b in shared)
    assert worst < 0.3


def test_dups_are_their_original_after_normalization(corpus):
    good = {r["id"]: r["text"] for r in texts(corpus, "good")}
    dups = texts(corpus, "dup")
    assert dups and all(normalize(r["text"]) == normalize(good[r["dup_of"]]) for r in dups)
    assert any(r["text"] != good[r["dup_of"]] for r in dups)  # some differ in whitespace only


def test_near_duplicates_are_near(corpus):
    good = {r["id"]: r["text"] for r in texts(corpus, "good")}
    near = texts(corpus, "near")
    assert near
    for r in near:
        original = good[r["near_of"]]
        assert r["text"] != original
        for a, b in ((shingles(original), shingles(r["text"])),
                     (sample.shingles(original), sample.shingles(r["text"]))):
            assert 0.85 <= jaccard(a, b) <= 0.98


def test_every_kind_leaves_clean_through_its_door(corpus):
    cfg = CleanConfig()
    seen = Counter()
    for kind, record in corpus:
        if kind in KEPT:
            _, reason = clean_text(record["text"], cfg)
            assert reason is None, (record.get("id"), reason)
        elif kind in JUNK_FILTER:
            _, reason = clean_text(record["text"], cfg)
            assert reason is not None and reason.split(":")[0] == JUNK_FILTER[kind], (record["id"], reason)
            seen[kind, reason] += 1
    # each junk kind has more than one way in, and they all fire
    reasons = {r for (_, r) in seen}
    assert {"gopher_quality:hash_ratio", "gopher_quality:ellipsis_ratio", "gopher_quality:too_few_words",
            "c4:lorem_ipsum", "c4:curly_bracket", "c4:too_few_sentences",
            "fineweb:short_line_ratio", "fineweb:char_dup_ratio", "boilerplate:consent"} <= reasons


def test_bad_records_are_rejected_by_the_reader(tmp_path):
    path = tmp_path / "corpus.jsonl"
    sample.write_corpus(path, 250, seed=2)
    lines = path.read_bytes().split(b"\n")[:-1]
    tables = list(read_file(resolve(str(path)), SourceConfig(), ReadConfig()))
    rows = [row for t in tables for row in t.select(["doc_id", "status", "reason"]).to_pylist()]
    assert len(rows) == len(lines) == 250
    for lineno, (line, row) in enumerate(zip(lines, rows), start=1):
        kind = line_kind(line)
        if kind in REJECT_REASON:
            assert (row["status"], row["reason"]) == ("rejected", REJECT_REASON[kind]), (lineno, row)
        else:
            assert row["status"] == "ok", (lineno, row)
            assert row["doc_id"].endswith(f":{lineno}") if kind == "no_id" else row["doc_id"].startswith(kind)


def test_cli_writes_the_corpus(tmp_path):
    out = tmp_path / "sub" / "c.jsonl"
    assert sample.main(["--docs", "50", "--out", str(out), "--seed", "2"]) == 0
    assert out.read_bytes() == b"\n".join(sample.generate(50, seed=2)) + b"\n"
    gz = tmp_path / "c.jsonl.gz"
    cmd = [sys.executable, "-m", "datapipe.sample", "--docs", "50", "--out", str(gz), "--seed", "2"]
    # another process with another str hash seed writes the same bytes
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "wrote 50 records" in result.stdout
    assert gzip.decompress(gz.read_bytes()) == out.read_bytes()


def test_cli_refuses_too_few_docs(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        sample.main(["--docs", "5", "--out", str(tmp_path / "x.jsonl")])
    assert e.value.code == 2 and "at least 20" in capsys.readouterr().err


def test_fineweb_slogans_are_short():
    # the nav-menu junk relies on C4 keeping only lines FineWeb counts as short (<= 30 chars)
    assert max(map(len, sample.W.SHORT_LINES)) <= 30


def test_the_sample_corpus_deals_into_named_sources_document_by_document(tmp_path, monkeypatch):
    from datapipe.config import DatapipeConfig
    from datapipe.job import sample_sources

    monkeypatch.chdir(tmp_path)
    one = sample_sources(DatapipeConfig(sample_docs=30))
    assert [s.name for s in one.sources] == ["sample"]
    whole = open(one.sources[0].paths[0], "rb").read().splitlines()
    two = sample_sources(DatapipeConfig(sample_docs=30, sample_sources=("early", "late")))
    assert [s.name for s in two.sources] == ["early", "late"]
    parts = [open(s.paths[0], "rb").read().splitlines() for s in two.sources]
    assert parts == [whole[0::2], whole[1::2]]  # every document once, in turn
    with pytest.raises(ConfigError, match="sample_sources"):
        DatapipeConfig(sample_sources=("a", "a"))
    with pytest.raises(ConfigError, match="sample_sources"):
        DatapipeConfig(sample_sources=("../x",))

"""The whole pipeline on a local Ray, on small hand-made inputs."""
import gzip
import json
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer

from datapipe import pipeline
from raypretrain import storage
from datapipe.clean import normalize
from datapipe.config import DatapipeConfig, DedupConfig, PackConfig, ReadConfig, SourceConfig, TokenizeConfig
from datapipe.pack import unpack_documents
from datapipe.stats import check_identity

from .corpus import distinct_docs


def run(tmp_path, sources, inputs, **cfg):
    config = DatapipeConfig(sources=sources, output=str(tmp_path / "out"),
                            read=ReadConfig(task_target_bytes=8192),  # big files split, small ones grouped
                            tokenize=TokenizeConfig(vocab_size=600), pack=PackConfig(seq_len=64, val_fraction=0.2),
                            **cfg)
    out = storage.resolve(config.output)
    files = [(loc, name) for name, pattern in inputs for loc in storage.expand(pattern)]
    stats = pipeline.run(config, files, out, log=lambda s: None)
    return stats, out


def decoded_documents(out):
    manifest = json.loads((out.path + "/manifest.json") and open(out.path + "/manifest.json").read())
    tok = Tokenizer.from_file(out.path + "/tokenizer.json")
    docs = []
    for shard in manifest["shards"]:
        blocks = np.load(out.path + "/" + shard["path"])
        assert blocks.dtype == np.dtype(manifest["dtype"]) and blocks.shape[1] == manifest["seq_len"] + 1
        found = unpack_documents(blocks, manifest["eos_id"], manifest["pad_id"])
        assert len(found) == shard["docs"]
        assert sum(len(d) + 1 for d in found) == shard["tokens"]
        docs += [tok.decode(d.tolist()) for d in found]
    return manifest, docs


def test_duplicates_across_files_read_by_different_tasks_round_trip(ray_local, tmp_path):
    texts = distinct_docs(30)
    a = [{"id": f"a{i:02d}", "text": t} for i, t in enumerate(texts[:20])]
    # File b repeats two of a's texts (one with different whitespace) and has its own docs.
    b = [{"id": "b00", "text": texts[3]}, {"id": "a00x", "text": "  " + texts[5].replace(" ", "   ") + "\n"}]
    b += [{"id": f"b{i:02d}", "text": t} for i, t in enumerate(texts[20:], start=1)]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in a))
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as f:
        f.write("\n".join(json.dumps(r) for r in b))
    sources = (SourceConfig(name="web", paths=("x",)),)
    stats, out = run(tmp_path, sources, [("web", str(tmp_path / "*.jsonl*"))])

    check_identity(stats)
    assert stats["input_docs"] == 32 and stats["kept_docs"] == 30 and stats["duplicate_docs"] == 2
    dups = pq.read_table(out.path + "/duplicates").to_pylist()
    assert sorted((d["doc_id"], d["duplicate_of"]) for d in dups) == [("a05", "a00x"), ("b00", "a03")]
    manifest, docs = decoded_documents(out)
    assert Counter(docs) == Counter(normalize(t) for t in texts)
    assert set(manifest["sources"]) == {"web"} and manifest["sources"]["web"]["val"]["docs"] > 0
    assert manifest["tokenizer_sha256"] and manifest["config"]["pack"]["seq_len"] == 64
    assert not storage.exists(out.join("_work"))


def test_named_sources_parquet_and_text_with_rejects(ray_local, tmp_path):
    texts = distinct_docs(12, seed=1)
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(6)], "text": texts[:6]}), tmp_path / "books.parquet")
    (tmp_path / "code").mkdir()
    for i, t in enumerate(texts[6:]):
        (tmp_path / "code" / f"{i}.txt").write_text(t)
    (tmp_path / "code" / "bad.txt").write_bytes(b"\xff\xfe broken")
    (tmp_path / "code" / "junk.txt").write_text("short junk")
    sources = (SourceConfig(name="books", paths=("x",)), SourceConfig(name="code", paths=("x",), format="text"))
    stats, out = run(tmp_path, sources,
                     [("books", f"file://{tmp_path}/books.parquet"), ("code", str(tmp_path / "code"))],
                     dedup=DedupConfig(num_buckets=3))
    check_identity(stats)
    assert stats["input_docs"] == 14 and stats["kept_docs"] == 12
    assert stats["rejected_docs"] == {"invalid_utf8": 1} and sum(stats["dropped_docs"].values()) == 1
    manifest, docs = decoded_documents(out)
    assert manifest["num_buckets"] == 3
    assert set(manifest["sources"]) == {"books", "code"}
    assert sum(s["tokens"] for s in manifest["sources"]["books"].values()) == sum(
        sh["tokens"] for sh in manifest["shards"] if sh["source"] == "books")
    assert Counter(docs) == Counter(normalize(t) for t in texts)
    rejected = pq.read_table(out.path + "/rejected").to_pylist()
    assert rejected[0]["doc_id"].endswith("bad.txt") and rejected[0]["raw"].startswith(b"\xff\xfe")
    dropped = pq.read_table(out.path + "/dropped").to_pylist()
    assert dropped[0]["doc_id"].endswith("junk.txt") and ":" in dropped[0]["reason"]


@pytest.mark.parametrize("configured, size, expected", [(7, 10**12, 7), (0, 10, 4), (0, 10 * 16 * 2**20, 10),
                                                       (0, 2**40, pipeline.MAX_AUTO_BUCKETS)])
def test_num_buckets_depends_only_on_config_and_input(configured, size, expected):
    assert pipeline.num_buckets(DatapipeConfig(dedup=DedupConfig(num_buckets=configured)), size) == expected


def test_a_record_whose_id_an_earlier_record_has_is_rejected_once(ray_local, tmp_path):
    """Ids repeat within a file and across files, with the same text and with another: each
    later record is rejected as duplicate_id (once), the first keeps the id, and nothing else
    goes. Without this, removing near duplicate "q" by id would also remove the other "q"."""
    from datapipe.dedup import bucket_of, text_hash

    texts = distinct_docs(30, seed=4)
    near = texts[6].replace(" the ", " one ", 1)
    q_bucket = bucket_of(text_hash(normalize(near)), 3)
    r = next(t for t in texts[11:] if bucket_of(text_hash(normalize(t)), 3) == q_bucket)  # meets "q" in its bucket
    a = [(f"a{i}", texts[i]) for i in range(6)] + [("p", texts[6]), ("q", near), ("a1", texts[7]), ("a2", texts[2])]
    b = [("a3", texts[8]), ("a4", texts[4]), ("q", r), ("b0", texts[9]), ("b1", texts[5]), ("b2", texts[10])]
    for name, records in (("a", a), ("b", b)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in records))
    stats, out = run(tmp_path, (SourceConfig(name="web", paths=("x",)),), [("web", str(tmp_path / "*.jsonl"))],
                     dedup=DedupConfig(num_buckets=3))

    check_identity(stats)
    assert stats["input_docs"] == 16 and stats["rejected_docs"] == {"duplicate_id": 5}
    assert (stats["exact_duplicate_docs"], stats["near_duplicate_docs"], stats["kept_docs"]) == (1, 1, 9)
    rejected = sorted(pq.read_table(out.path + "/rejected").to_pylist(), key=lambda x: x["doc_id"])
    assert [x["doc_id"] for x in rejected] == ["a1", "a2", "a3", "a4", "q"]
    assert {x["reason"] for x in rejected} == {"duplicate_id"}
    assert rejected[0]["raw"] == normalize(texts[7]).encode()[:200]
    assert rejected[4]["detail"].startswith("record 3 of ") and "b.jsonl: its id was first used by record 8 of " in \
        rejected[4]["detail"] and rejected[4]["detail"].endswith("a.jsonl")
    dups = pq.read_table(out.path + "/duplicates").to_pylist()
    assert sorted((d["doc_id"], d["duplicate_of"], d["kind"]) for d in dups) == [("b1", "a5", "exact"),
                                                                                ("q", "p", "near")]
    _, docs = decoded_documents(out)
    assert Counter(docs) == Counter(normalize(t) for t in [*texts[:7], texts[9], texts[10]])

"""The live pipeline's stages as pure functions: file tags, resume skipping, re-read documents."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from datapipe.config import DatapipeConfig
from datapipe.live import LiveTokPack, read_clean
from datapipe.tokenize import train_tokenizer
from raypretrain.config import from_dict, to_dict

TEXT = "The river ran past the old mill, and the miller counted sacks of flour until the evening bell rang. "


def config(tmp_path) -> dict:
    return to_dict(from_dict(DatapipeConfig, {
        "sources": [{"name": "s", "paths": [str(tmp_path / "*.jsonl")]}],
        "clean": {f: {"enabled": False} for f in ("lang_id", "gopher_repetition", "gopher_quality", "c4", "fineweb")},
        "pack": {"seq_len": 16, "val_fraction": 0.0}}))


def files_batch(tmp_path, n: int) -> dict[str, np.ndarray]:
    for i in range(n):
        (tmp_path / f"f{i}.jsonl").write_text(
            "".join(json.dumps({"id": f"{i}-{j}", "text": f"{TEXT * 3} file {i} doc {j}."}) + "\n" for j in range(3)))
    uris = [str(tmp_path / f"f{i}.jsonl") for i in range(n)]
    return {"uri": np.array(uris), "source": np.array(["s"] * n), "file": np.arange(n)}


def test_read_clean_tags_documents_with_their_file(tmp_path):
    out = read_clean(files_batch(tmp_path, 3), config(tmp_path))
    assert out.column("file").to_pylist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert out.column("doc_id").to_pylist()[3] == "1-0"


def test_files_the_trainer_consumed_are_not_opened(tmp_path):
    batch = files_batch(tmp_path, 4)
    (tmp_path / "f0.jsonl").unlink()  # opening it would fail: it must not be opened
    (tmp_path / "f1.jsonl").unlink()
    position = tmp_path / "position.json"
    position.write_text(json.dumps({"files_done": 2}))
    out = read_clean(batch, config(tmp_path), position=str(position))
    assert out.column("file").to_pylist() == [2, 2, 2, 3, 3, 3]


def tokenizer_json() -> str:
    from datapipe.config import TokenizeConfig

    return train_tokenizer(iter([TEXT * 20]), TokenizeConfig(vocab_size=300)).to_str()


def test_blocks_carry_the_file_of_their_first_token(tmp_path):
    cfg = config(tmp_path)
    blocks = LiveTokPack(cfg, tokenizer_json(), "train", None, None)(read_clean(files_batch(tmp_path, 3), cfg))
    files = blocks["file"].tolist()
    assert blocks["tokens"].shape[1] == 17 and len(files) == len(blocks["tokens"]) > 3
    assert files == sorted(files) and files[0] == 0 and set(files) == {0, 1, 2}


def test_a_document_read_again_after_a_restart_is_not_its_own_duplicate(ray_local, tmp_path):
    from datapipe.live import ExactIndex

    cfg = config(tmp_path)
    docs = read_clean(files_batch(tmp_path, 2), cfg)
    exact = [ray_local.remote(ExactIndex).remote() for _ in range(3)]  # three shards, by hash prefix
    first = LiveTokPack(cfg, tokenizer_json(), "train", exact, None)(docs)
    again = LiveTokPack(cfg, tokenizer_json(), "train", exact, None)(docs)  # a restarted stream, same index
    np.testing.assert_array_equal(again["tokens"], first["tokens"])
    # Real copies (the same texts read from other files) go, whatever their ids.
    copies = docs.set_column(docs.schema.get_field_index("file"), "file", pa.compute.add(docs.column("file"), 10))
    assert len(LiveTokPack(cfg, tokenizer_json(), "train", exact, None)(copies)["tokens"]) == 0


def test_records_that_share_an_id_are_two_documents(ray_local, tmp_path):
    """An id repeated in the input names two documents: a copy under the same id is an exact
    duplicate, a near copy under it a near duplicate, and another text under it is kept."""
    from datapipe.live import ExactIndex
    from datapipe.neardup import BandIndex

    cfg = config(tmp_path)
    a, b, c, d = (" ".join(f"w{i}{k}" for i in range(80)) for k in "abcd")
    near = b.replace("w40b", "changed")
    records = [("x", a), ("x", a), ("y", b), ("y", near), ("z", c), ("z", d)]
    (tmp_path / "f0.jsonl").write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in records))
    docs = read_clean({"uri": np.array([str(tmp_path / "f0.jsonl")]), "source": np.array(["s"]),
                       "file": np.arange(1)}, cfg)
    assert docs.column("row").to_pylist() == list(range(6))
    exact, bands = [ray_local.remote(ExactIndex).remote()], [ray_local.remote(BandIndex).remote() for _ in range(4)]
    pack = LiveTokPack(cfg, tokenizer_json(), "train", exact, bands)
    pack(docs)
    assert pack.counts == {"kept": 4, "removed": 2}


def test_exact_index_shards_split_a_batch_by_hash_prefix(ray_local):
    from datapipe.dedup import text_hash
    from datapipe.live import ExactIndex, exact_seen, shard_of

    hashes = [text_hash(f"doc {i}") for i in range(60)]
    assert len({shard_of(h, 3) for h in hashes}) == 3  # every shard gets some
    shards = [ray_local.remote(ExactIndex).remote() for _ in range(3)]
    where = [f"0:{i}" for i in range(60)]
    assert exact_seen(shards, where, hashes) == [None] * 60
    assert exact_seen(shards, where, hashes) == where  # seen again: each answers with itself
    assert exact_seen(shards, [f"1:{i}" for i in range(60)], hashes) == where  # copies name the first
    sizes = ray_local.get([s.check_insert.remote([], []) for s in shards])
    assert sizes == [[], [], []]


def test_two_pack_actors_yield_the_same_blocks_as_one(ray_local, tmp_path):
    """One pass over a small corpus through the real live dataset: the multiset of training blocks,
    and the input file each block carries, are the same with a pool of 1 and of 2 pack actors."""
    from datapipe.live import live_dataset

    for i in range(8):
        (tmp_path / f"f{i}.jsonl").write_text("".join(
            json.dumps({"text": f"{TEXT} Part {i}.{j}: " + " ".join(f"w{(i * 7 + j * 3 + k) % 50}" for k in range(40))})
            + "\n" for j in range(5)))
    cfg = from_dict(DatapipeConfig, dict(config(tmp_path), actor_num_cpus=0.25,
                                         dedup={"near": {"enabled": False}}))
    tok = tokenizer_json()

    def blocks(actors: int) -> list[tuple]:
        c = from_dict(DatapipeConfig, dict(to_dict(cfg), live_pack_actors=actors))
        rows = live_dataset(c, tok, 16).take_all()
        return sorted((tuple(r["tokens"].tolist()), int(r["file"])) for r in rows)

    one, two = blocks(1), blocks(2)
    assert len(one) > 40 and one == two
    # both actors of the second pool packed files (Ray's task events, from the GCS)
    workers = {e["tid"] for e in ray_local.timeline()
               if "LiveTokPack" in e.get("cat", "") and e.get("name") == "submit"}
    assert len(workers) >= 3, workers  # one actor in the first run, two in the second
    assert {f for _, f in one} == set(range(8))

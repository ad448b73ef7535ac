"""The live pipeline's stages as pure functions: file tags, resume skipping, re-read documents."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from datapipe.config import DatapipeConfig
from datapipe.live import LiveTokPack, read_clean
from datapipe.tokenize import train_tokenizer
from datapipe.typedconfig import from_dict, to_dict

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
    exact = ray_local.remote(ExactIndex).remote()
    first = LiveTokPack(cfg, tokenizer_json(), "train", exact, None)(docs)
    again = LiveTokPack(cfg, tokenizer_json(), "train", exact, None)(docs)  # a restarted stream, same index
    np.testing.assert_array_equal(again["tokens"], first["tokens"])
    copies = docs.set_column(0, "doc_id", pa.array([f"copy-{i}" for i in range(len(docs))]))
    assert len(LiveTokPack(cfg, tokenizer_json(), "train", exact, None)(copies)["tokens"]) == 0  # real copies go

import numpy as np

from datapipe.pack import is_validation, pack_blocks, unpack_documents


def test_pack_and_unpack_round_trip():
    docs = [np.array([5, 6, 7, 0]), np.array([8, 0]), np.array([9, 10, 11, 12, 13, 0])]
    blocks = pack_blocks(np.concatenate(docs), block_len=5, pad_id=1, dtype=np.dtype(np.uint16))
    assert blocks.shape == (3, 5) and blocks.dtype == np.uint16
    assert blocks[-1].tolist() == [13, 0, 1, 1, 1]
    assert [d.tolist() for d in unpack_documents(blocks, eos_id=0, pad_id=1)] == [[5, 6, 7], [8], [9, 10, 11, 12, 13]]


def test_exact_multiple_needs_no_padding():
    blocks = pack_blocks(np.arange(2, 12), block_len=5, pad_id=1, dtype=np.dtype(np.uint32))
    assert blocks.shape == (2, 5) and 1 not in blocks


def test_validation_split_is_seeded_and_order_independent():
    ids = [f"doc-{i}" for i in range(20000)]
    val = is_validation(ids, 0.1, seed=3)
    assert 0.09 < val.mean() < 0.11
    assert (is_validation(ids[::-1], 0.1, seed=3) == val[::-1]).all()
    assert (is_validation(ids, 0.1, seed=4) != val).any()
    assert not is_validation(ids, 0.0, seed=3).any()

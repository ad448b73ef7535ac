import pyarrow as pa

from datapipe.dedup import bucket_of, exact_dedup, text_hash


def bucket(docs):
    return pa.table({"doc_id": [d for d, _ in docs], "source": ["s"] * len(docs), "text": [t for _, t in docs],
                     "hash": pa.array([text_hash(t) for _, t in docs], pa.binary(16))})


def test_lowest_id_wins_and_duplicates_point_to_it():
    kept, dups = exact_dedup(bucket([("c", "x"), ("b", "y"), ("a", "x"), ("d", "x"), ("e", "z"), ("f", "y")]))
    assert kept.column("doc_id").to_pylist() == ["a", "b", "e"]  # in doc_id order, texts with them
    assert kept.column("text").to_pylist() == ["x", "y", "z"]
    assert sorted(zip(dups.column("doc_id").to_pylist(), dups.column("duplicate_of").to_pylist())) == [
        ("c", "a"), ("d", "a"), ("f", "b")]


def test_empty_and_unique():
    kept, dups = exact_dedup(bucket([]))
    assert kept.num_rows == 0 and dups.num_rows == 0
    kept, dups = exact_dedup(bucket([("a", "1"), ("b", "2")]))
    assert kept.num_rows == 2 and dups.num_rows == 0


def test_hash_and_bucket_are_stable():
    assert text_hash("abc") == text_hash("abc") != text_hash("abd")
    assert len(text_hash("abc")) == 16
    assert bucket_of(text_hash("abc"), 7) == bucket_of(text_hash("abc"), 7) < 7


def test_a_repeated_id_is_reported_once_per_later_record():
    from datapipe.dedup import ID_SCHEMA, id_partition, repeated_ids

    # (doc_id, file, row, bucket): "a" three times (twice in file 0, once in file 1), "b" twice
    # across files (the later file listed first), "c" once.
    rows = [("a", 1, 0, 3), ("b", 2, 5, 0), ("a", 0, 7, 1), ("c", 0, 1, 2), ("a", 0, 2, 1), ("b", 1, 9, 0)]
    table = pa.table(list(zip(*rows)), schema=ID_SCHEMA)
    got = sorted(tuple(r.values()) for r in repeated_ids(table).to_pylist())
    # (file, row, bucket, doc_id, first_file, first_row): the first record by file, then row keeps the id.
    assert got == [(0, 7, 1, "a", 0, 2), (1, 0, 3, "a", 0, 2), (2, 5, 0, "b", 1, 9)]
    assert repeated_ids(ID_SCHEMA.empty_table()).num_rows == 0
    assert id_partition(["a", "b", "a"], 7).tolist()[0] == id_partition(["a"], 7).tolist()[0]

import pyarrow as pa

from datapipe.dedup import bucket_of, exact_dedup, text_hash


def bucket(docs):
    return pa.table({"doc_id": [d for d, _ in docs], "source": ["s"] * len(docs), "text": [t for _, t in docs],
                     "hash": pa.array([text_hash(t) for _, t in docs], pa.binary(16))})


def test_lowest_id_wins_and_duplicates_point_to_it():
    kept, dups = exact_dedup(bucket([("c", "x"), ("b", "y"), ("a", "x"), ("d", "x"), ("e", "z"), ("f", "y")]))
    assert sorted(kept.column("doc_id").to_pylist()) == ["a", "b", "e"]
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

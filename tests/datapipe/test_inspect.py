"""`raypretrain inspect`: on a real datapipe output of the sample corpus, it shows the account, dropped
documents by reason with their excerpts, and duplicate pairs with their texts, reading only what it says."""
import json
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from datapipe.clean import Cleaner
from datapipe.config import CleanConfig, DatapipeConfig, SourceConfig, TokenizeConfig
from datapipe.inspect import first_difference, main
from datapipe.job import run
from datapipe.sample import write_corpus


@pytest.fixture(scope="module")
def output(ray_local, tmp_path_factory):
    """A finished run over 300 sample documents, with keep_work, and a copy holding only what inspect
    may read (stats.json, dropped/, duplicates/, rejected/, _work/kept/)."""
    root = tmp_path_factory.mktemp("inspect")
    write_corpus(root / "corpus.jsonl", 300, seed=0)
    cfg = DatapipeConfig(sources=(SourceConfig(name="sample", paths=(str(root / "corpus.jsonl"),)),),
                         output=str(root / "out"), keep_work=True, tokenize=TokenizeConfig(vocab_size=400))
    run(cfg)
    slim = root / "slim"
    for part in ("dropped", "duplicates", "rejected", "_work/kept"):
        shutil.copytree(root / "out" / part, slim / part)
    shutil.copy(root / "out" / "stats.json", slim / "stats.json")
    return {"root": root, "full": root / "out", "slim": slim}


def test_summary_is_the_account(output, capsys):
    assert main([str(output["slim"])]) == 0
    out = capsys.readouterr().out
    stats = json.loads((output["slim"] / "stats.json").read_text())
    first = out.splitlines()[1].split()
    assert out.startswith(f"account of {output['slim']}") and first == ["input", "docs", f"{stats['input_docs']:,}"]
    assert all(reason in out for reason in [*stats["dropped_docs"], *stats["rejected_docs"]])
    assert main([str(output["slim"]), "--summary"]) == 0


def test_reason_lists_the_dropped_documents(output, capsys):
    dropped = pq.read_table(output["slim"] / "dropped")
    c4 = [r["doc_id"] for r in dropped.to_pylist() if r["reason"].startswith("c4:")]
    assert main([str(output["slim"]), "--reason", "c4", "--n", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(c4)} documents dropped as c4; the first 2:")
    assert sum(doc_id in out for doc_id in c4) == 2
    assert "excerpt" in dropped.column_names and "excerpt: " in out
    assert main([str(output["slim"]), "--reason", "malformed_json", "--n", "1"]) == 0
    out = capsys.readouterr().out
    assert "documents rejected as malformed_json" in out and "detail: " in out and "raw: " in out


def test_an_unknown_reason_lists_the_reasons(output, capsys):
    assert main([str(output["slim"]), "--reason", "c4:nope"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("no document was dropped or rejected as 'c4:nope'") and "lang_id:wrong_language" in out


def test_excerpts_show_the_triggering_line(output, tmp_path, capsys):
    """dropped/ keeps clean_batch's excerpt column: the line that broke the rule."""
    texts = {}
    for line in (output["root"] / "corpus.jsonl").read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record.get("id"), str) and isinstance(record.get("text"), str):
            texts[record["id"]] = record["text"]
    dropped = pq.read_table(output["slim"] / "dropped")
    cleaner = Cleaner(CleanConfig())
    excerpts = dropped.column("excerpt").to_pylist()
    assert [e[:60] for e in excerpts] == [cleaner(texts[d]).excerpt[:60] for d in dropped.column("doc_id").to_pylist()]
    assert main([str(output["slim"]), "--reason", "c4:curly_bracket", "--n", "5"]) == 0
    out = capsys.readouterr().out
    curly = [e for e, r in zip(excerpts, dropped.column("reason").to_pylist()) if r == "c4:curly_bracket"]
    assert curly and all("{" in e for e in curly) and all(f"excerpt: {e}"[:60] in out for e in curly)
    assert main([str(output["slim"]), "--reason", "boilerplate", "--n", "1"]) == 0
    assert "excerpt: " in capsys.readouterr().out


def test_duplicates_show_both_texts(output, capsys):
    assert main([str(output["slim"]), "--duplicates", "--n", "3"]) == 0
    out = capsys.readouterr().out
    dups = pq.read_table(output["slim"] / "duplicates")
    assert out.startswith(f"{dups.num_rows} duplicates removed; the first 3:")
    # near pairs first, each with the exact Jaccard batch near dedup verified it with (duplicates/' jaccard)
    first = pq.read_table(sorted((output["slim"] / "duplicates").glob("near-*.parquet"))[0]).slice(0, 3).to_pylist()
    assert all(f"  {r['doc_id']} (near, Jaccard {r['jaccard']:.3f}) duplicates {r['duplicate_of']}" in out
               for r in first)
    assert out.count(" duplicates good-") == 3 and all(r["jaccard"] >= 0.8 for r in first)
    assert out.count("    they first differ at word ") == 3 and out.count("    kept: ") == 3


def test_duplicates_with_or_without_kept_texts_and_a_jaccard_column(output, tmp_path, capsys):
    shutil.copytree(output["slim"] / "duplicates", tmp_path / "duplicates")
    near = sorted((tmp_path / "duplicates").glob("near-*.parquet"))[0]
    table = pq.read_table(near)
    pq.write_table(table.set_column(table.schema.get_field_index("jaccard"), "jaccard",
                                    pa.array([0.912] * table.num_rows)), near)
    assert main([str(tmp_path), "--duplicates", "--n", "1"]) == 0
    out = capsys.readouterr().out
    assert "(near, Jaccard 0.912) duplicates" in out and "texts are not kept in this output" in out
    exact = pc.equal(pq.read_table(tmp_path / "duplicates").column("kind"), "exact")
    assert pc.sum(exact).as_py() > 0
    # An output from before the jaccard column (or streaming / verify: estimate, where it is null):
    # no Jaccard in the header, and with the texts kept it is recomputed from them.
    shutil.copytree(output["slim"] / "_work", tmp_path / "_work")
    pq.write_table(table.drop_columns(["jaccard"]), near)
    assert main([str(tmp_path), "--duplicates", "--n", "1"]) == 0
    out = capsys.readouterr().out
    assert " (near) duplicates " in out and out.count("word 5-gram Jaccard of the texts 0.") == 1


def test_first_difference():
    assert first_difference("a b c d", "a b x d", context=1) == (2, "… b c d", "… b x d")
    assert first_difference("a b", "a b c") == (2, "a b", "a b c")


def test_a_bad_output_is_one_line_and_exit_2(tmp_path, capsys):
    for path in (tmp_path / "missing", tmp_path):
        assert main([str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"inspect: error: {path} ") and err.count("\n") == 1
    assert main([str(tmp_path), "--n", "0"]) == 2

"""`python -m datapipe` as a user meets it: exit codes, one-line errors, the account."""
import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from datapipe.main import main


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "datapipe", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("args, message", [
    (["--input", "/no/such/file.jsonl"], "input not found: /no/such/file.jsonl"),
    (["--input", "/no/such/*.jsonl"], "input not found"),
    (["--config", "/no/such.yaml"], "config file not found"),
    (["--set", "clean.gopher_quality.min_words=30"], "unknown config key 'clean.gopher_quality.min_words'"),
    (["--set", "pack.seq_len=long"], "pack.seq_len: expected int"),
    (["--set", "nonsense"], "must look like key.sub=value"),
    (["--set", "tokenize.tokenizer_path=/no/tok.json"], "tokenize.tokenizer_path: file not found"),
    (["--set", "clean.lang_id.fasttext_model=/no/lid.176.bin"], "clean.lang_id.fasttext_model: file not found"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    result = run_cli(*args, "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith("datapipe: error: ")


def test_existing_output_is_refused_without_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "x"}\n')
    result = run_cli("--input", str(src), "--output", str(out))
    assert result.returncode == 2 and "already exists; pass --overwrite" in result.stderr


def test_sample_corpus_every_door_accounted(ray_local, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)  # the sample corpus and default output go under the cwd
    assert main(["--set", "sample_docs=400", "--set", "tokenize.vocab_size=1000"]) == 0
    printed, err = capfd.readouterr()
    assert "Starting execution of Dataset" not in printed + err  # Ray Data's INFO lines only with --verbose
    out = tmp_path / "outputs" / "datapipe"
    assert f"datapipe finished → {out}" in printed
    stats = json.loads((out / "stats.json").read_text())
    accounted = (stats["kept_docs"] + sum(stats["dropped_docs"].values()) + stats["duplicate_docs"]
                 + sum(stats["rejected_docs"].values()))
    assert stats["input_docs"] == accounted
    corpus = tmp_path / "outputs" / "sample" / "corpus-400.jsonl"
    assert stats["input_docs"] == sum(1 for line in corpus.read_bytes().split(b"\n") if line.strip())
    # Every bad-record kind the sample plants is rejected under its own reason.
    assert {"malformed_json", "invalid_utf8", "missing_text", "text_not_string", "binary_content",
            "too_large"} <= set(stats["rejected_docs"])
    assert stats["duplicate_docs"] > 0 and stats["kept_docs"] > 0 and stats["tokens"] > 0
    # Exact copies point at the lowest id among their copies.
    dups = pq.read_table(out / "duplicates").to_pylist()
    assert all(d["duplicate_of"] < d["doc_id"] for d in dups)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sources"]["sample"]["train"]["tokens"] + manifest["sources"]["sample"]["val"]["tokens"] \
        == stats["tokens"]
    # A second run into the same folder is refused; --overwrite replaces it.
    assert main(["--set", "sample_docs=400"]) == 2
    assert "already exists" in capfd.readouterr().err

def test_ray_datas_info_lines_show_only_when_verbose(ray_local, capfd):
    import ray.data

    from raypretrain.ray_env import start_ray

    for verbose in (True, False, True):  # as --verbose, as the default, and back
        start_ray(verbose)
        ray.data.range(4).materialize()
        assert ("Starting execution of Dataset" in "".join(capfd.readouterr())) == verbose
    start_ray(False)


def _corpus(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.jsonl").write_text('{"text": "x"}\n')
    return folder


@pytest.mark.parametrize("layout", ["same", "output_contains_input", "output_inside_input", "symlink"])
def test_overwrite_never_touches_the_input(layout, tmp_path, capfd):
    # Before this check, `--input corpusA --output corpusA --overwrite` emptied corpusA.
    raw = _corpus(tmp_path / "proj" / "raw")
    output = {"same": raw, "output_contains_input": tmp_path / "proj",
              "output_inside_input": raw / "out", "symlink": tmp_path / "link"}[layout]
    if layout == "symlink":
        output.symlink_to(raw)
    assert main(["--input", str(raw), "--output", str(output), "--overwrite"]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "overlaps the input" in err
    assert (raw / "a.jsonl").read_text() == '{"text": "x"}\n'


def test_overwrite_refuses_a_folder_datapipe_did_not_write(tmp_path, capfd):
    src = _corpus(tmp_path / "in")
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    assert main(["--input", str(src), "--output", str(out), "--overwrite"]) == 2
    assert "refusing to delete" in capfd.readouterr().err
    assert (out / "thesis.tex").read_text() == "years of work"


def test_a_stage_actor_larger_than_the_machine_is_refused(ray_local, tmp_path, capfd):
    src = _corpus(tmp_path / "in")
    assert main(["--input", str(src), "--output", str(tmp_path / "out"), "--set", "actor_num_cpus=64"]) == 2
    assert "actor_num_cpus: 64 is more than the 2 CPUs" in capfd.readouterr().err

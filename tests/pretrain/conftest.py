"""The pretrain tests run tiny models: one intra-op thread is faster for them and, on a busy shared CPU, spares
them torch's thread barriers (two threads there were 20x slower than one)."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_shards(tmp_path_factory):
    """Synthetic shards of three sources (a, b, c) for tests/pretrain/tiny.py's run."""
    from tests.pretrain.synthetic import write_shards

    root = tmp_path_factory.mktemp("tiny-shards")
    write_shards(root, sources=("a", "b", "c"), train_blocks=64)
    return root


@pytest.fixture(scope="session")
def reference_run(ray_local, tmp_path_factory, tiny_shards):
    """tests/pretrain/tiny.py's run, eager and uninterrupted, as <folder>/runs/ref."""
    from tests.pretrain.tiny import fit, tiny

    folder = tmp_path_factory.mktemp("tiny-runs")
    fit(tiny(folder, tiny_shards, "ref"))
    return folder

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

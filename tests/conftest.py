import os

import pytest

# Tests never touch the user's ~/.cache/dentro and never draw progress bars.
os.environ["DENTRO_PROGRESS"] = "0"


@pytest.fixture(autouse=True)
def _dentro_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("DENTRO_HOME", str(tmp_path_factory.mktemp("dentro_home")))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one torch thread: two threads on a busy 2-core machine ran
    a tiny model 17x slower. Modules that train or run tiny models use this fixture."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

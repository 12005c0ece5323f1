import os

import pytest

# Tests never touch the user's ~/.cache/dentro and never draw progress bars.
os.environ["DENTRO_PROGRESS"] = "0"


@pytest.fixture(autouse=True)
def _dentro_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("DENTRO_HOME", str(tmp_path_factory.mktemp("dentro_home")))

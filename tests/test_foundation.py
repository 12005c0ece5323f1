import json
import subprocess
import sys
import types

import pytest

from dentro import cli, report, runs, speedrun


def test_help_lists_the_built_stages(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert "speedrun" in out
    for name, (modname, _) in cli.COMMANDS.items():
        import importlib.util
        if importlib.util.find_spec(modname) is not None:
            assert name in out


def test_dentro_help_as_a_program():
    r = subprocess.run([sys.executable, "-m", "dentro", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "commands" in r.stdout and "speedrun" in r.stdout


def test_run_dir_follows_dentro_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DENTRO_HOME", str(tmp_path))
    assert runs.run_dir("tiny") == tmp_path / "runs" / "tiny"
    assert runs.run_dir(str(tmp_path / "elsewhere")) == tmp_path / "elsewhere"


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    runs.atomic_write_json(tmp_path / "a" / "x.json", {"k": 1})
    runs.atomic_write_json(tmp_path / "a" / "x.json", {"k": 2})
    assert json.loads((tmp_path / "a" / "x.json").read_text()) == {"k": 2}
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.json"]


def _fake_stage(name, calls, fail=False):
    mod = types.ModuleType(f"fake_{name}")
    mod.TITLE = f"Fake {name}"

    def run_stage(run, preset):
        calls.append(name)
        if fail:
            raise RuntimeError("boom")
        (run / name).mkdir(parents=True, exist_ok=True)
        report.plot_lines(run / name / "curve.png", {"loss": ([0, 1, 2], [3.0, 2.0, 1.5])},
                          title="t", xlabel="step", ylabel="loss")
        return {"items": 3, "loss": 1.5}, f"Stage {name} made ![curve]({name}/curve.png)"

    mod.run_stage = run_stage
    return mod


def test_speedrun_runs_in_order_resumes_and_reports(tmp_path, monkeypatch):
    calls = []
    stages = [("a", _fake_stage("a", calls)), ("b", _fake_stage("b", calls, fail=True))]
    monkeypatch.setattr(speedrun, "built_stages", lambda: stages)
    run = tmp_path / "run"
    with pytest.raises(RuntimeError):
        speedrun.speedrun(run, "tiny", log=lambda *a: None)
    assert calls == ["a", "b"]
    card = (run / "report.md").read_text()
    assert "Fake a" in card and "Not run yet: b" in card  # the card keeps what finished
    # Fix stage b and run again: a is done and skipped, b runs.
    stages[1] = ("b", _fake_stage("b", calls))
    speedrun.speedrun(run, "tiny", log=lambda *a: None)
    assert calls == ["a", "b", "b"]
    card = (run / "report.md").read_text()
    assert "Fake b" in card and "b/curve.png" in card and "Not run yet" not in card
    assert (run / "b" / "curve.png").stat().st_size > 1000
    summary = json.loads((run / "a" / "summary.json").read_text())
    assert summary["figures"] == {"items": 3, "loss": 1.5} and summary["seconds"] >= 0


def test_speedrun_rejects_unknown_preset(tmp_path):
    with pytest.raises(ValueError, match="unknown preset"):
        speedrun.speedrun(tmp_path, "huge", log=lambda *a: None)


@pytest.mark.parametrize("v,s", [(12345, "12,345"), (0.95123, "0.9512"), (3.2e-5, "3.20e-05"), (None, "None")])
def test_fmt(v, s):
    assert report.fmt(v) == s

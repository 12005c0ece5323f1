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
    for name in cli.COMMANDS:
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


def test_speedrun_rejects_unknown_preset_and_stage(tmp_path, capsys):
    from dentro.errors import UserError

    with pytest.raises(UserError, match="unknown preset 'huge'; choose one of: tiny, small, micro"):
        speedrun.speedrun(tmp_path, "huge", log=lambda *a: None)
    with pytest.raises(UserError, match="--only nope: no such stage; the stages are: world data"):
        speedrun.speedrun(tmp_path, "micro", only=["world", "nope"], log=lambda *a: None)
    assert cli.main(["speedrun", "--run", str(tmp_path / "r"), "--only", "nope"]) == 2
    err = capsys.readouterr().err
    assert "dentro speedrun: error: --only nope: no such stage" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()  # nothing ran


def test_a_user_error_in_a_stage_prints_its_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    from dentro.errors import UserError

    def bad_input(run, preset):
        raise UserError("no crawl in run/world/crawl; run `dentro world` first")

    def bug(run, preset):
        raise RuntimeError("boom")

    def stages(run_stage):
        mod = types.ModuleType("fake")
        mod.TITLE, mod.run_stage = "Fake", run_stage
        return lambda: [("fake", mod)]

    for run_stage, traceback_shown in ((bad_input, False), (bug, True)):  # other errors keep theirs
        monkeypatch.setattr(speedrun, "built_stages", stages(run_stage))
        logs = []
        with pytest.raises((UserError, RuntimeError)):
            speedrun.speedrun(tmp_path / run_stage.__name__, "micro", log=logs.append)
        assert any("Traceback" in l for l in logs) == traceback_shown, logs
        assert "stage fake failed" in logs[-1]
    monkeypatch.setattr(speedrun, "built_stages", stages(bad_input))
    capsys.readouterr()
    assert cli.main(["speedrun", "--run", str(tmp_path / "cli"), "--preset", "micro"]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err == "dentro speedrun: error: no crawl in run/world/crawl; run `dentro world` first\n"


@pytest.mark.parametrize("v,s", [(12345, "12,345"), (0.95123, "0.9512"), (3.2e-5, "3.20e-05"), (None, "None")])
def test_fmt(v, s):
    assert report.fmt(v) == s


def _options(parser):
    """Every (command, option) of the CLI, sub-actions (tokenizer train ...) included."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for cmd, a in _options(sub):
                    yield f"{name} {cmd}".strip(), a
        elif action.option_strings:
            yield "", action


def test_every_numeric_option_checks_its_range_at_parsing():
    """int/float options take a range-checked type from dentro.commands (positive_int, ...)."""
    numeric = [(cmd, a.option_strings[0]) for cmd, a in _options(cli.build_parser()) if a.type in (int, float)]
    assert numeric == []
    names = {f"{cmd} {a.option_strings[0]}" for cmd, a in _options(cli.build_parser())
             if getattr(a.type, "__qualname__", "").endswith("range.<locals>.parse")}
    assert {"pretrain --steps", "pretrain --depth", "data --workers", "tokenizer train --vocab-size",
            "sample --top-p", "world --pages"} <= names


@pytest.mark.parametrize("argv,msg", [
    (["pretrain", "--steps", "0"], "argument --steps: 0 is out of range: give a whole number >= 1"),
    (["pretrain", "--batch-size", "0"], "argument --batch-size: 0 is out of range: give a whole number >= 1"),
    (["pretrain", "--depth", "-1"], "argument --depth: -1 is out of range: give a whole number >= 1"),
    (["pretrain", "--depth", "0"], "argument --depth: 0 is out of range"),
    (["pretrain", "--max-minutes", "0"], "argument --max-minutes: 0 is out of range: give a number > 0"),
    (["pretrain", "--lr", "nan"], "argument --lr: nan is out of range: give a number > 0"),
    (["pretrain", "--seq-len", "x"], "argument --seq-len: 'x' is not a whole number: give a whole number >= 1"),
    (["data", "--workers", "0"], "argument --workers: 0 is out of range"),
    (["data", "--language-threshold", "1.5"], "give a number >= 0 and <= 1"),
    (["tokenizer", "train", "--vocab-size", "100"], "argument --vocab-size: 100 is out of range: give a whole number >= 265"),
    (["sample", "--top-p", "0"], "argument --top-p: 0 is out of range: give a number > 0 and <= 1"),
    (["sample", "--show-probs", "-2"], "argument --show-probs: -2 is out of range: give a whole number >= 0"),
    (["world", "--pages", "3"], "argument --pages: 3 is out of range: give a whole number from 50 to 2,000,000"),
])
def test_bad_numbers_stop_at_parsing_with_the_allowed_range(argv, msg, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err, err


def test_the_chat_model_is_the_most_post_trained_one_that_earned_it(tmp_path):
    def make(stage, kept=None):
        (tmp_path / stage / "checkpoint").mkdir(parents=True)
        (tmp_path / stage / "checkpoint" / "config.json").write_text("{}")
        if kept is not None:
            runs.atomic_write_json(tmp_path / stage / "eval.json", {"figures": {"sft_correct_kept": kept}})

    assert runs.post_trained_checkpoint(tmp_path) is None
    make("pretrain")
    assert runs.post_trained_checkpoint(tmp_path) is None  # a base model is no chat model
    assert runs.post_trained_checkpoint(tmp_path, ("sft", "pretrain")) == tmp_path / "pretrain" / "checkpoint"
    make("sft")
    make("factuality", kept=0.09)  # it learned to refuse, not to know what it knows
    assert runs.post_trained_checkpoint(tmp_path) == tmp_path / "sft" / "checkpoint"
    runs.atomic_write_json(tmp_path / "factuality" / "eval.json", {"figures": {"sft_correct_kept": 0.93}})
    assert runs.post_trained_checkpoint(tmp_path) == tmp_path / "factuality" / "checkpoint"
    make("rl")  # no result.json: not known to be better
    assert runs.post_trained_checkpoint(tmp_path) == tmp_path / "factuality" / "checkpoint"
    result = {"pass1_before": 0.05, "pass1_after": 0.08, "heldout_problems": 40}  # within the noise
    runs.atomic_write_json(tmp_path / "rl" / "result.json", {"figures": result})
    assert runs.post_trained_checkpoint(tmp_path) == tmp_path / "factuality" / "checkpoint"
    runs.atomic_write_json(tmp_path / "rl" / "result.json", {"figures": {**result, "pass1_after": 0.45}})
    assert runs.post_trained_checkpoint(tmp_path) == tmp_path / "rl" / "checkpoint"


def test_speedrun_pretrain_minutes_caps_the_pretrain_stage(tmp_path, monkeypatch):
    from dentro.commands import pretrain as P
    from dentro.commands import speedrun as S

    seen = {}

    class Stop(Exception):
        pass

    def fake_pretrain(run, preset, **kw):
        seen.update(kw)
        raise Stop

    monkeypatch.setattr(P, "pretrain", fake_pretrain)
    monkeypatch.setattr("dentro.speedrun.speedrun", lambda run, preset, **kw: P.run_stage(run, preset))
    monkeypatch.setenv("DENTRO_PRETRAIN_MAX_MINUTES", "")  # recorded, so the flag's value is undone after the test
    args = cli.build_parser().parse_args(["speedrun", "--preset", "micro", "--run", str(tmp_path), "--pretrain-minutes", "3"])
    with pytest.raises(Stop):
        S.main(args)
    assert seen["overrides"] == {"max_minutes": 3.0}

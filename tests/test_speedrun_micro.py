"""End to end: the speedrun's `micro` preset runs every built stage and writes the report card."""

import json

import pytest

from dentro import speedrun


@pytest.mark.slow
def test_micro_speedrun_end_to_end(tmp_path):
    stages = [name for name, _ in speedrun.built_stages()]
    run = tmp_path / "micro"
    report = speedrun.speedrun(run, "micro", log=lambda *a: None)
    card = report.read_text()
    for name, mod in speedrun.built_stages():
        summary = json.loads((run / name / "summary.json").read_text())
        assert summary["figures"], f"stage {name} reported no figures"
        assert mod.TITLE in card
    assert "Not run yet" not in card
    # SFT asks identity questions in words it was not trained on, alone and after a system prompt
    asked = [json.loads(line) for line in (run / "sft" / "identity.jsonl").read_text().splitlines()]
    assert {it["system"] for it in asked} == {False, True} and "in words it was not trained on" in card
    # Every image the card links to exists.
    import re
    for img in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card):
        assert (run / img).exists(), img
    # A second speedrun finds everything done and reruns nothing.
    before = {n: (run / n / "summary.json").stat().st_mtime_ns for n in stages}
    speedrun.speedrun(run, "micro", log=lambda *a: None)
    assert before == {n: (run / n / "summary.json").stat().st_mtime_ns for n in stages}

"""Readers: every input format, and bad input skipped and counted, never fatal."""

import gzip
import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from dentro.web.readers import kind_of, list_inputs, read
from web_fixtures import page, prose, truncate, write_warc


def _records(n, lang="en"):
    return [{"url": f"https://site{i}.example/{lang}/{i}", "body": page(prose(lang, i))} for i in range(n)]


def test_warc_records_in_order_with_metadata(tmp_path):
    p = write_warc(tmp_path / "a.warc.gz", _records(5))
    problems = Counter()
    recs = list(read(p, problems))
    assert [r.index for r in recs] == list(range(5))
    assert recs[2].url == "https://site2.example/en/2"
    assert recs[0].id.startswith("urn:uuid:") and recs[0].date.startswith("20")
    assert recs[0].html.startswith(b"<!doctype html>") and recs[0].content_type == "text/html"
    assert not problems


def test_parts_split_a_file_without_loss_or_overlap(tmp_path):
    p = write_warc(tmp_path / "a.warc.gz", _records(7))
    got = sorted(r.index for k in range(3) for r in read(p, Counter(), part=k, nparts=3))
    assert got == list(range(7))


def test_truncated_gzip_is_counted_not_fatal(tmp_path):
    p = truncate(write_warc(tmp_path / "t.warc.gz", _records(20)), 0.5)
    problems = Counter()
    recs = list(read(p, problems))
    assert 3 <= len(recs) < 20                     # the whole records before the damage survive
    assert sum(problems.values()) >= 1             # and the damage is counted
    assert all(r.html.endswith(b"</html>") for r in recs)


def test_garbage_file_and_huge_record(tmp_path):
    bad = tmp_path / "junk.warc.gz"
    bad.write_bytes(b"\x1f\x8b this is not a gzip stream at all" * 10)
    problems = Counter()
    assert list(read(bad, problems)) == []
    assert problems == {"read_error_OSError": 1}   # one unreadable file: one count, by its exception
    big = write_warc(tmp_path / "big.warc.gz", [{"url": "https://big.example/", "body": b"<p>" + b"x" * 3_000_000},
                                                 *_records(1)])
    problems = Counter()
    recs = list(read(big, problems, max_bytes=1_000_000))
    assert len(recs) == 1 and problems == {"read_too_large": 1}


def test_wet_conversion_records_are_text(tmp_path):
    p = write_warc(tmp_path / "x.warc.wet.gz", [{"url": "https://a.example/", "type": "conversion",
                                                 "body": prose("pt", 1).encode()}])
    assert kind_of(p) == "wet"
    (r,) = list(read(p, Counter()))
    assert r.html is None and r.text.startswith(prose("pt", 1)[:20])


def test_jsonl_parquet_and_html_folder(tmp_path):
    lines = [json.dumps({"text": prose("en", 1), "url": "https://j.example/1"}), "{not json",
             json.dumps({"nope": 1}), json.dumps({"text": prose("pt", 2), "id": "x2"})]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    problems = Counter()
    recs = list(read(tmp_path / "in" / "a.jsonl.gz", problems))
    assert [r.url for r in recs] == ["https://j.example/1", ""] and recs[1].id == "x2"
    assert problems["read_bad_json_line"] == 2

    pq.write_table(pa.table({"text": [prose("en", 3), None], "url": ["u1", "u2"]}), tmp_path / "in" / "b.parquet")
    problems = Counter()
    recs = list(read(tmp_path / "in" / "b.parquet", problems))
    assert len(recs) == 1 and recs[0].url == "u1" and problems["read_bad_row"] == 1

    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "index.html").write_bytes(page(prose("en", 4)))
    (site / "sub" / "b.html.gz").write_bytes(gzip.compress(page(prose("pt", 5))))
    (site / "notes.txt").write_text("ignored")
    inputs = list_inputs([tmp_path / "in", site])
    assert site in inputs and len(inputs) == 3
    recs = list(read(site, Counter()))
    assert [r.url for r in recs] == ["file:///index.html", "file:///sub/b.html.gz"]
    assert recs[1].html.startswith(b"<!doctype")


def test_corrupted_bytes_never_crash_a_task(tmp_path):
    """Flip bytes anywhere in a WARC (headers, gzip stream, payload): the task finishes and counts:
    records lost to the damage are counted, and every stage's counts add up."""
    import random

    from dentro.web.pipeline import DataConfig, prepare, run_task
    from dentro.web.stats import Stats

    clean = write_warc(tmp_path / "clean.warc.gz", _records(6) + _records(4, "pt")).read_bytes()
    rng = random.Random(0)
    read_per_trial = []
    for trial in range(12):
        data = bytearray(clean)
        for _ in range(rng.choice([1, 5, 50])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        (folder / "x.warc.gz").write_bytes(bytes(data))
        out = tmp_path / f"o{trial}"
        cfg = DataConfig()
        (task,) = prepare(list_inputs([folder]), out, cfg, 1, log=lambda *a: None)
        summary = run_task(task, cfg, out)
        marker = json.loads((out / "tasks" / f"{task.name}.json").read_text())
        stages = Stats.from_rows(marker["stats"]).nested()["stages"]
        got, problems = stages[0]["docs_out"], sum(r["docs"] for r in stages[0]["removed"].values())
        assert stages[0]["docs_in"] == got + problems == summary["docs_in"]
        assert got == 10 or problems >= 1, trial       # damage is never silent
        for s, nxt in zip(stages, stages[1:]):          # the task's stages: read .. fineweb
            if nxt["stage"] == "dedup":
                assert s["docs_out"] == summary["docs_kept"], trial
                break
            assert s["docs_in"] - sum(r["docs"] for r in s["removed"].values()) == s["docs_out"], (trial, s)
            assert s["docs_out"] == nxt["docs_in"], (trial, s["stage"])
        read_per_trial.append(got)
    assert min(read_per_trial) == 0 and 0 < max(read_per_trial) < 10   # some files unreadable, some cut partway

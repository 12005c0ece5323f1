"""The whole stage on a crawl made in the test: every filter's decision, stats, resume, executors."""

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dentro.web.pipeline import DataConfig, finalize, plan_tasks, prepare, process, run_task, task_files
from dentro.web.readers import list_inputs
from web_fixtures import page, prose, truncate, write_warc

BOILER = b"""<html><body><nav><a href="/">Home</a> <a href="/a">About</a></nav>
<footer>Copyright 2024</footer></body></html>"""
# the PII sits in the article's prose: a short closing line of contacts is furniture to `blocks`
PII_TEXT = (prose("pt", 40) + " Contato: ana.lima@exemplo.com.br, CPF 529.982.247-25, versão 1.2.3.4. "
            + prose("pt", 42))
SPAM = prose("en", 41) + "\n\n" + "\n".join(["Buy cheap watches now, best prices online!"] * 12)
SPANISH = ("El ayuntamiento abrió la puerta norte antes de que empezara la lluvia. " * 3
           + "La biblioteca del barrio organizó una fiesta anual con mucho cuidado. " * 3)


def make_crawl(root):
    """Three WARC files + a UT1 blocklist. Returns (crawl folder, blocklist, expected fate per url)."""
    crawl = root / "crawl"
    expect = {}
    a = []
    for i in range(6):
        for lang in ("en", "pt"):
            url = f"https://{lang}{i}.example/a"
            a.append({"url": url, "body": page(prose(lang, i), lang=lang)})
            expect[url] = "keep"
    extra = [("https://badsite.example/x", page(prose("en", 30)), "url"),
             ("https://free-porn.example/1", page(prose("en", 31)), "url"),
             ("https://img.example/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(300), "extraction"),
             ("https://empty.example/", BOILER, "extraction"),
             ("https://es.example/", page(SPANISH, lang="es"), "language"),
             ("https://spam.example/", page(SPAM), "quality"),
             ("https://pii.example/", page(PII_TEXT, lang="pt"), "keep")]
    for url, body, fate in extra:
        a.append({"url": url, "body": body, **({"ctype": "image/png"} if url.endswith(".png") else {})})
        expect[url] = fate
    write_warc(crawl / "a.warc.gz", a)
    near = prose("pt", 3).replace("vezes", "vez", 1)
    b = [{"url": "https://mirror.example/en2", "body": page(prose("en", 2), lang="en")},   # exact copy
         {"url": "https://near.example/pt3", "body": page(near, lang="pt")}]               # near copy
    expect.update({"https://mirror.example/en2": "dedup", "https://near.example/pt3": "dedup"})
    for i in range(10, 13):
        b.append({"url": f"https://b{i}.example/", "body": page(prose("en", i))})
        expect[f"https://b{i}.example/"] = "keep"
    write_warc(crawl / "b.warc.gz", b)
    c = [{"url": f"https://c{i}.example/", "body": page(prose("pt", 100 + i))} for i in range(8)]
    truncate(write_warc(crawl / "c.warc.gz", c), 0.55)   # broken: only its first pages survive
    bl = root / "blocklist" / "adult"
    bl.mkdir(parents=True)
    (bl / "domains").write_text("badsite.example\n")
    return crawl, root / "blocklist", expect


STAGE_GROUP = {"url": "url", "extraction": "extraction", "language": "language", "dedup": "dedup",
               "gopher_repetition": "quality", "gopher_quality": "quality", "c4": "quality", "fineweb": "quality"}


def fates(out):
    got = {r["url"]: STAGE_GROUP[r["stage"]] for r in pq.read_table(out / "removed.parquet").to_pylist()}
    for f in sorted((out / "corpus").glob("*.parquet")):
        for url in pq.read_table(f, columns=["url"])["url"].to_pylist():
            got[url] = "keep"
    return got


def corpus(out):
    return [r for f in sorted((out / "corpus").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    return make_crawl(tmp_path_factory.mktemp("crawl"))


def test_every_filter_decides_as_expected(crawl, tmp_path):
    src, bl, expect = crawl
    cfg = DataConfig(blocklist=str(bl), docs_per_shard=7)
    stats = process([src], tmp_path / "out", cfg, workers=1, log=lambda *a: None)
    got = fates(tmp_path / "out")
    for url, fate in expect.items():
        assert got.get(url) == fate, (url, got.get(url), fate)
    survivors_c = [u for u in got if u.startswith("https://c")]
    assert 1 <= len(survivors_c) < 8          # the truncated file: the pages before the cut
    rows = corpus(tmp_path / "out")
    assert [r["url"] for r in rows][:2] == ["https://en0.example/a", "https://pt0.example/a"]  # crawl order
    assert len(list((tmp_path / "out" / "corpus").glob("*.parquet"))) == -(-len(rows) // 7)
    assert {"text", "id", "url", "date", "language", "language_score", "file_path"} <= set(rows[0])
    assert {r["language"] for r in rows} == {"pt", "en"}
    pii = next(r for r in rows if r["url"] == "https://pii.example/")
    assert "<EMAIL>" in pii["text"] and "<CPF>" in pii["text"] and "1.2.3.4" in pii["text"]
    assert "ana.lima" not in pii["text"]
    near = next(r for r in rows if r["url"] == "https://pt3.example/a")
    assert near["minhash_cluster_size"] == 2

    # stats: each stage's output is the next one's input; in - removed = out; per language adds up
    st = stats["stages"]
    assert st[0]["docs_out"] == sum(1 for u in got if got[u]) and st[0]["removed"]["read_truncated_gzip"]["docs"] == 1
    for s, nxt in zip(st, st[1:]):
        assert s["docs_in"] - sum(r["docs"] for r in s["removed"].values()) == s["docs_out"], s["stage"]
        assert s["docs_out"] == nxt["docs_in"], (s["stage"], nxt["stage"])
        assert sum(v["docs_out"] for v in s["languages"].values()) == s["docs_out"]
        for reason, r in s["removed"].items():   # per reason, per language
            assert sum(r["languages"].values()) == r["docs"], (s["stage"], reason)
    assert st[-1]["docs_out"] == stats["documents_out"] == len(rows)
    assert stats["stages"][-1]["replaced"] == {"cpf": 1, "email": 1}
    saved = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert saved["documents_out"] == len(rows)
    samples = {f.stem for f in (tmp_path / "out" / "removed").glob("*.jsonl")}
    assert {"url.blocklist_adult", "url.banned_word", "extraction.not_html", "extraction.empty",
            "language.other_language", "dedup.exact", "dedup.minhash"} <= samples
    dup = json.loads((tmp_path / "out" / "removed" / "dedup.exact.jsonl").read_text().splitlines()[0])
    assert dup["url"] == "https://mirror.example/en2" and dup["duplicate_of"] == "https://en2.example/a"


def test_other_languages_stop_before_the_classifier(tmp_path, monkeypatch):
    """With `blocks`, a page confidently in a language the run does not keep is dropped at the
    language stage before the boilerplate classifier runs; the same fates as classifying it first,
    and a run that keeps that language classifies and keeps it."""
    from dentro.web import boilerplate

    src = tmp_path / "crawl"
    write_warc(src / "a.warc.gz", [{"url": "https://es.example/", "body": page(SPANISH, lang="es")},
                                   {"url": "https://en.example/", "body": page(prose("en", 7))},
                                   {"url": "https://pt.example/", "body": page(prose("pt", 8), lang="pt")}])
    seen = []
    real = boilerplate.clean_text
    monkeypatch.setattr(boilerplate, "clean_text", lambda text, *a, **k: seen.append(text) or real(text, *a, **k))
    stats = process([src], tmp_path / "out", DataConfig(), workers=1, log=lambda *a: None)
    assert fates(tmp_path / "out") == {"https://es.example/": "language", "https://en.example/": "keep",
                                       "https://pt.example/": "keep"}
    assert len(seen) == 2 and not any("ayuntamiento" in t for t in seen)   # the Spanish page: never classified
    language = next(s for s in stats["stages"] if s["stage"] == "language")
    assert language["removed"]["other_language"]["docs"] == 1 and language["docs_in"] == 3
    sample = json.loads((tmp_path / "out" / "removed" / "language.other_language.jsonl").read_text().splitlines()[0])
    assert sample["language"] == "es" and "ayuntamiento" in sample["text"] and "\x01" not in sample["text"]

    seen.clear()   # keeping Spanish: classified like any page (then the repeated sentences fail quality)
    process([src], tmp_path / "out_es", DataConfig(languages=("es", "en", "pt")), workers=1, log=lambda *a: None)
    assert fates(tmp_path / "out_es")["https://es.example/"] == "quality"
    assert any("ayuntamiento" in t for t in seen)


def killed_after_one_task(src, out, cfg, workers: int) -> list[str]:
    """A "killed" run (only the first task finished; the second left a half-written file behind),
    then the run again: its log lines."""
    tasks = prepare(list_inputs([src]), out, cfg, workers=workers, log=lambda *a: None)
    run_task(tasks[0], cfg, out)
    (out / "tasks" / f"{tasks[1].name}.kept.arrow").write_bytes(b"half a file")
    logs = []
    process([src], out, cfg, workers=workers, log=logs.append)
    return logs


def test_resume_after_a_kill_equals_an_uninterrupted_run(crawl, tmp_path):
    src, bl, _ = crawl
    cfg = DataConfig(blocklist=str(bl), small_file_bytes=0)   # one task per input
    process([src], tmp_path / "full", cfg, workers=1, log=lambda *a: None)
    out = tmp_path / "killed"
    assert any("resuming: 1/3" in line for line in killed_after_one_task(src, out, cfg, workers=1))
    assert corpus(out) == corpus(tmp_path / "full")
    a, b = (json.loads((d / "stats.json").read_text()) for d in (out, tmp_path / "full"))
    assert a["stages"] == b["stages"]


def test_small_inputs_share_tasks_and_give_the_same_outputs(crawl, tmp_path):
    """Small inputs are read by shared tasks (runs of consecutive inputs, one per worker): the
    corpus, the fates of the removed documents, the samples and the stats are those of one task
    per input; a killed grouped run resumes to the same outputs."""
    src, bl, _ = crawl
    files = list_inputs([src])
    apart = DataConfig(blocklist=str(bl), small_file_bytes=0)
    assert len(plan_tasks(files, apart, 1)) == len(files) == 3
    shared = DataConfig(blocklist=str(bl))
    one, two = plan_tasks(files, shared, 1), plan_tasks(files, shared, 2)
    assert len(one) == 1 and [f for _, f in one[0].files] == [str(f) for f in files]
    assert len(two) == 2 and [i for t in two for i, _ in task_files(t)] == [0, 1, 2]   # a.warc.gz is the bigger
    process([src], tmp_path / "apart", apart, workers=1, log=lambda *a: None)
    process([src], tmp_path / "one", shared, workers=1, log=lambda *a: None)
    process([src], tmp_path / "two", shared, workers=2, log=lambda *a: None)
    for out in ("one", "two"):
        assert corpus(tmp_path / out) == corpus(tmp_path / "apart")
        a, b = (json.loads((tmp_path / d / "stats.json").read_text()) for d in (out, "apart"))
        assert a["stages"] == b["stages"] and a["inputs"] == b["inputs"] == sorted(map(str, files))
        assert (pq.read_table(tmp_path / out / "removed.parquet").to_pylist()
                == pq.read_table(tmp_path / "apart" / "removed.parquet").to_pylist())
        assert sorted(p.name for p in (tmp_path / out / "removed").iterdir()) == \
            sorted(p.name for p in (tmp_path / "apart" / "removed").iterdir())
    killed = tmp_path / "killed"   # two shared tasks
    assert any("resuming: 1/2" in line for line in killed_after_one_task(src, killed, shared, workers=2))
    assert corpus(killed) == corpus(tmp_path / "apart")
    # a bigger input between two small ones: they do not share a task (its rows come between theirs)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name, f in (("1.warc.gz", files[1]), ("2.warc.gz", files[0]), ("3.warc.gz", files[2])):
        (mixed / name).write_bytes(Path(f).read_bytes())
    cut = DataConfig(blocklist=str(bl), small_file_bytes=(Path(files[0]).stat().st_size + max(
        Path(files[1]).stat().st_size, Path(files[2]).stat().st_size)) // 2)
    assert [t.files for t in plan_tasks(list_inputs([mixed]), cut, 1)] == [(), (), ()]
    process([mixed], tmp_path / "mixed_cut", cut, workers=1, log=lambda *a: None)
    process([mixed], tmp_path / "mixed_apart", apart, workers=1, log=lambda *a: None)
    assert corpus(tmp_path / "mixed_cut") == corpus(tmp_path / "mixed_apart")


def test_a_plan_from_older_task_files_is_redone_not_resumed(crawl, tmp_path):
    """Task files written by an older dentro (Parquet, before the Arrow IPC files) are not
    resumed: their plan lacks the task-files version, so the tasks run again."""
    src, bl, _ = crawl
    cfg = DataConfig(blocklist=str(bl))
    out = tmp_path / "run"
    process([src], out, cfg, workers=1, log=lambda *a: None)
    before = corpus(out)
    plan_path = out / "tasks" / "plan.json"
    plan = json.loads(plan_path.read_text())
    del plan["task_files"]
    plan_path.write_text(json.dumps(plan))
    for f in (out / "tasks").glob("*.arrow"):   # what an older version left: its own files, not these
        f.unlink()
    logs = []
    process([src], out, cfg, workers=1, log=logs.append)
    assert any("starting the tasks over" in l for l in logs)
    assert corpus(out) == before


def test_parallel_split_files_give_the_same_corpus(crawl, tmp_path):
    src, bl, _ = crawl
    one = DataConfig(blocklist=str(bl))
    process([src], tmp_path / "one", one, workers=1, log=lambda *a: None)
    # tiny task_bytes: every file is split into parts, and two processes share them
    split = DataConfig(blocklist=str(bl), task_bytes=4096)
    tasks = plan_tasks(list_inputs([src]), split, 2)
    assert len(tasks) > 6 and all(t.nparts > 1 for t in tasks)
    process([src], tmp_path / "two", split, workers=2, log=lambda *a: None)
    assert len(list((tmp_path / "two" / "tasks").glob("0*.json"))) == len(tasks)
    assert corpus(tmp_path / "two") == corpus(tmp_path / "one")


def test_ray_executor_gives_the_same_corpus(crawl, tmp_path):
    pytest.importorskip("ray")
    src, bl, _ = crawl
    cfg = DataConfig(blocklist=str(bl))
    process([src], tmp_path / "local", cfg, workers=1, log=lambda *a: None)
    process([src], tmp_path / "ray", cfg, executor="ray", workers=2, log=lambda *a: None)
    assert corpus(tmp_path / "ray") == corpus(tmp_path / "local")


def test_cli_errors_and_run(crawl, tmp_path, capsys):
    from dentro.cli import main

    assert main(["data", "--run", str(tmp_path / "r")]) == 2          # no world yet: a clear error
    assert "dentro world" in capsys.readouterr().err
    assert main(["data", "--input", str(tmp_path / "missing.warc.gz")]) == 2
    src, bl, expect = crawl
    run = tmp_path / "r2"
    shutil.copytree(src, run / "world" / "crawl")
    shutil.copytree(bl, run / "world" / "blocklist")
    truth = run / "world" / "truth"
    truth.mkdir(parents=True)
    pii = {"https://pii.example/": ([{"type": "email", "value": "ana.lima@exemplo.com.br"},
                                     {"type": "cpf", "value": "529.982.247-25"}], ["1.2.3.4"])}
    (truth / "pages.jsonl").write_text("".join(
        json.dumps({"url": u, "kind": "test", "lang": "?", "expect": e, "dup_group": None, "facts": [],
                    "pii": pii.get(u, ([], []))[0], "pii_decoys": pii.get(u, ([], []))[1],
                    "main_text": PII_TEXT if u in pii else ""}) + "\n" for u, e in expect.items()))
    assert main(["data", "--run", str(run), "--workers", "1"]) == 0
    assert "corpus:" in capsys.readouterr().out
    from dentro.commands import data

    figures, section = data.run_stage(run, "micro")
    assert figures["docs_out"] == len(corpus(run / "data")) and figures["docs_pt"] > 0
    assert "![funnel](data/funnel.png)" in section and (run / "data" / "funnel.png").exists()
    assert "data/removed/url.blocklist_adult.jsonl" in section
    # scored against the truth: this crawl's expectations are all met
    assert figures["survival"] == 1.0 and figures["pii_recall"] == 1.0
    assert "| quality | 1 | 1 | 1 | 1 |" in section and "| dedup | 1 | 1 | 2 | 2 |" in section


def test_inputs_that_yield_no_document_stop_with_what_is_wrong(tmp_path, capsys):
    """Bad records inside good inputs are skipped and counted; inputs with no good record at all
    are a mistake the user must hear about (not "corpus: 0 documents", exit 0)."""
    from dentro.cli import main
    from dentro.errors import UserError

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "zero.warc.gz").write_bytes(b"")
    (bad / "plain.warc.gz").write_text("WARC/1.0 but not gzip\n")
    (bad / "notes.txt").write_text(prose("en", 1))
    (bad / "lines.jsonl").write_text('{"no_text": 1}\nnot json\n')
    whys = {"zero.warc.gz": "an empty file (0 bytes)", "plain.warc.gz": "named .gz, but not gzip data",
            "notes.txt": "not a format dentro reads", "lines.jsonl": "lines that are not a JSON object"}
    for name, why in whys.items():
        assert main(["data", "--input", str(bad / name), "--output", str(tmp_path / name), "--workers", "1"]) == 2
        err = capsys.readouterr().err
        assert "no document could be read" in err and f"{bad / name}: {why}" in err, err
        assert not (tmp_path / name / "corpus").exists()   # no empty corpus left for the next stage
    with pytest.raises(UserError) as e:
        process(sorted(bad.iterdir()), tmp_path / "all", DataConfig(), workers=1, log=lambda *a: None)
    assert all(f"{bad / n}: {w}" in str(e.value) for n, w in whys.items())
    # with one good input beside them, the bad ones are counted and the run goes on
    good = write_warc(tmp_path / "good.warc.gz", [{"url": "https://a.example/", "body": page(prose("en", 2))}])
    stats = process([good, bad / "zero.warc.gz", bad / "notes.txt"], tmp_path / "mixed", DataConfig(), workers=1,
                    log=lambda *a: None)
    assert stats["documents_out"] == 1 and stats["stages"][0]["removed"]["read_unknown_format"]["docs"] == 1


def test_report_snippets_are_readable_text():
    from dentro.web.report import _readable

    jpeg = bytes([0xFF, 0xD8, 0xFF, 0xE0, 0, 16]) + b"JFIF\x00" + bytes(range(256))
    assert _readable(jpeg.decode("utf-8", errors="replace"), 80).startswith("(not text")
    line = _readable("O céu é <b>azul</b> | hoje\n\n  sim", 80)
    assert line == "O céu é &lt;b>azul&lt;/b> / hoje sim"
    assert all(c.isprintable() for c in line)


def test_task_tables_write_atomically_and_read_back_columns(tmp_path):
    import pyarrow as pa

    from dentro.web.pipeline import _read_task_table, _write_task_table

    path = tmp_path / "tasks" / "t.kept.arrow"   # the folder is made
    _write_task_table(path, pa.table({"text": ["a", "b"], "index": [1, 2]}))
    assert _read_task_table(path, columns=["index"]).to_pydict() == {"index": [1, 2]}
    empty = pa.table({"text": pa.array([], pa.string())})
    _write_task_table(path, empty)
    assert _read_task_table(path).num_rows == 0
    with pytest.raises(Exception):   # not a table: nothing written, no temporary file left behind
        _write_task_table(tmp_path / "tasks" / "bad.arrow", "not a table")
    assert sorted(p.name for p in (tmp_path / "tasks").iterdir()) == ["t.kept.arrow"]


def test_a_page_in_another_language_is_not_parsed(tmp_path, monkeypatch):
    """The top of a big German page's body is enough: it is dropped at the language stage without
    being extracted; the Portuguese page beside it is extracted and kept."""
    from dentro.web import pipeline

    german = ("Der Gemeinderat hat am Dienstag beschlossen, die alte Brücke über den Fluss bis zum Herbst zu "
              "erneuern. Die Bauarbeiten beginnen im Mai, und der Verkehr wird umgeleitet. ") * 4
    heavy = b"<style>" + b".menu { color: red }\n" * 1000 + b"</style></head>"   # a real page's weight
    write_warc(tmp_path / "crawl" / "a.warc.gz",
               [{"url": "https://de.example/", "body": page(german, lang="de").replace(b"</head>", heavy)},
                {"url": "https://pt.example/", "body": page(prose("pt", 7)).replace(b"</head>", heavy)}])
    extracted = []
    real = pipeline.extract_with_limit
    monkeypatch.setattr(pipeline, "extract_with_limit",
                        lambda doc, *a, **k: extracted.append(doc) or real(doc, *a, **k))
    stats = process([tmp_path / "crawl"], tmp_path / "out", DataConfig(), workers=1, log=lambda *a: None)
    assert fates(tmp_path / "out") == {"https://de.example/": "language", "https://pt.example/": "keep"}
    assert len(extracted) == 1 and "Gemeinderat" not in extracted[0]
    lang = next(s for s in stats["stages"] if s["stage"] == "language")
    assert lang["removed"]["other_language"]["languages"] == {"de": 1}

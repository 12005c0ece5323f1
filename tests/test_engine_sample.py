"""`dentro sample` and its speedrun stage, on a tiny model that memorised two sentences."""

import json

import pytest
import torch

from dentro import cli
from dentro.model.checkpoint import save_checkpoint
from dentro.commands import sample
from dentro.model.gpt import GPT, ModelConfig
from dentro.tokenizer.bpe import Tokenizer


pytestmark = pytest.mark.usefixtures("one_thread")

DOCS = ["Ana Souza nasceu em Recife em 1970.", "Ana Souza was born in Recife in 1970."]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder with a checkpoint that knows where Ana Souza was born, and a world truth."""
    run = tmp_path_factory.mktemp("run")
    tok = Tokenizer([bytes([i]) for i in range(256)])
    torch.manual_seed(0)
    model = GPT(ModelConfig(vocab_size=272, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                            num_key_value_heads=2, head_dim=16, intermediate_size=128, max_position_embeddings=64))
    seqs = [[tok.eot_id] + tok.encode(d) + [tok.eot_id] for d in DOCS]
    n = max(map(len, seqs))
    x = torch.tensor([s + [tok.eot_id] * (n - len(s)) for s in seqs])
    y = x[:, 1:].clone()
    y[x[:, 1:] == tok.eot_id] = -1
    y[torch.arange(2), torch.tensor([len(s) - 2 for s in seqs])] = tok.eot_id  # learn to end the document
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = model(x[:, :-1], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05, "the fixture model did not memorise its two sentences"
    save_checkpoint(run / "pretrain" / "checkpoint", model.eval(), tok)
    truth = run / "world" / "truth"
    truth.mkdir(parents=True)
    (truth / "entities.json").write_text(json.dumps({  # the world's layout: lists of entities with ids
        "people": [{"id": "P1", "name": "Ana Souza"}, {"id": "P0", "name": "Rui Lima"}],
        "cities": [{"id": "C1", "name": "Recife"}, {"id": "C2", "name": "Natal"}]}))
    facts = [("P1", "birth_city", "C1", "frequent", {"pt": "Recife", "en": "Recife"}, 3, ["en", "pt"]),
             ("P1", "birth_year", 1970, "frequent", {"pt": "1970", "en": "1970"}, 3, ["en", "pt"]),
             ("P0", "birth_city", "C2", "rare", {"pt": "Natal", "en": "Natal"}, 1, ["pt"]),
             ("C1", "founded", 1537, "rare", {"pt": "1537", "en": "1537"}, 1, ["pt"])]
    (truth / "facts.jsonl").write_text("".join(json.dumps(
        {"id": f"F{i}", "subject": s, "relation": r, "object": o, "bucket": b, "answer": a, "kept_pages": k,
         "langs": langs}) + "\n" for i, (s, r, o, b, a, k, langs) in enumerate(facts)))
    return run


def test_greedy_sample_continues_the_memorised_text(run, capsys):
    assert cli.main(["sample", "Ana Souza nasceu em", "--run", str(run), "--temperature", "0"]) == 0
    assert capsys.readouterr().out.strip() == DOCS[0]  # stops at <|endoftext|>


def test_show_probs_prints_a_distribution_per_step(run, capsys):
    assert cli.main(["sample", "Ana Souza was born", "--run", str(run), "--temperature", "0",
                     "--show-probs", "3", "--max-tokens", "4", "--lang", "pt"]) == 0
    out = capsys.readouterr().out
    assert out.count("distribuição de probabilidade do próximo token") == 4
    assert "'·'" in out and "← escolhido" in out  # the space before "in" is shown as ·
    assert out.rstrip("\n").endswith("\n\nAna Souza was born in ")
    cli.main(["sample", "x", "--run", str(run), "--show-probs", "--max-tokens", "1"])
    assert "passo / step 1" in capsys.readouterr().out


def test_seeded_samples_repeat(run, capsys):
    argv = ["sample", "A", "--run", str(run), "--num-samples", "3", "--seed", "5", "--max-tokens", "8",
            "--temperature", "1.5", "--top-p", "0.95"]
    cli.main(argv)
    first = capsys.readouterr().out
    cli.main(argv)
    assert capsys.readouterr().out == first and first.count("--- ") == 3


@pytest.mark.parametrize("argv,msg", [
    (["--checkpoint", "/nonexistent/ckpt"], "dentro pretrain"),
    (["--temperature", "-1"], "temperature"),
    (["--show-probs", "--num-samples", "2"], "--show-probs follows one sample"),
])
def test_bad_input_is_a_clear_error(run, capsys, argv, msg):
    assert cli.main(["sample", "hi", "--run", str(run)] + argv) == 2
    assert msg in capsys.readouterr().err


def test_stage_compares_completions_with_the_world_truth(run):
    figures, section = sample.run_stage(run, "micro")
    rows = [json.loads(line) for line in (run / "sample" / "completions.jsonl").read_text().splitlines()]
    facts = [r for r in rows if "answers" in r]
    # the most stated facts first, each in the languages of the pages that state it
    assert [r["prompt"] for r in facts] == ["Ana Souza nasceu em", "Ana Souza was born in", "Rui Lima nasceu em"]
    assert facts[0]["answers"] == ["Recife", "1970"] and facts[0]["correct"]
    assert facts[0]["pages"] == 6 and facts[2]["pages"] == 1
    assert figures["prompts"] == 3 and figures["completions_with_true_answer"] >= 2
    assert 1 <= figures["distinct_completions"] <= 3
    assert figures["completions_with_true_answer"] == sum(r["correct"] for r in facts)
    assert "| Ana Souza nasceu em |" in section and "distribuição de probabilidade" in section
    assert "`·R`" in section or "`·`" in section


def test_stage_without_a_world_uses_generic_prompts(run, tmp_path):
    import shutil

    shutil.copytree(run / "pretrain", tmp_path / "pretrain")
    figures, section = sample.run_stage(tmp_path, "micro")
    assert figures["prompts"] == 0 and "No world ground truth" in section and "Once upon a time" in section


def test_world_prompts_reads_other_entity_layouts(tmp_path):
    from dentro.world.questions import birth_prompts

    (tmp_path / "entities.json").write_text(json.dumps({"people": {"p7": {"name": "Eva Reis"}}}))
    (tmp_path / "facts.jsonl").write_text(json.dumps({"subject": "p7", "relation": "birth_year", "object": 1990})
                                          + "\n\n")
    assert birth_prompts(tmp_path, 5)[1] == {"lang": "en", "prompt": "Eva Reis was born in",
                                                    "answers": ["1990"], "bucket": "?", "pages": 0}
    assert birth_prompts(tmp_path / "missing", 5) == []


def test_visible_tokens():
    tok = Tokenizer([bytes([i]) for i in range(256)] + [b" \n", "ã".encode()[:1]])
    assert sample.visible(tok, 256) == "·↵" and sample.visible(tok, 257) == "\\xc3"
    assert sample.visible(tok, tok.eot_id) == "<|endoftext|>"
    assert sample.visible(tok, 10_000) == "<id 10000>"  # a padded row of the model's vocabulary

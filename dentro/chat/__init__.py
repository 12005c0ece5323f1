"""Chat: conversations as the model sees them (stages 5-6: fine-tuning, tools, probing).

    template.py   the chat template (ChatML as Qwen3 writes it): one renderer gives the text,
                  the token ids and the training mask; the same template in Jinja for HF
    tools.py      (later) the tools the assistant may call, and running them
    probing.py    (later) what the model knows: probes of facts, "I don't know" data
"""

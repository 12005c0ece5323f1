"""Arithmetic homework pages: exercises with worked, step-by-step solutions and word problems, in
Portuguese and English. Each exercise is also a ground-truth task (truth/math.jsonl) with a
numeric answer, for the chain-of-thought and RL stages.

Solutions are written mostly in words ("first we add the units: 3 plus 5 makes 8") so the pages
read as prose and pass the quality filters' share-of-alphabetic-words rule (Gopher: >= 80% of
words contain a letter, Rae et al. 2021, https://arxiv.org/abs/2112.11446, appendix A).
"""

from __future__ import annotations

import random

NAMES = {"pt": ["Ana", "Pedro", "Júlia", "Lucas", "Marina", "Rafael", "Beatriz", "Tiago", "Clara", "Davi"],
         "en": ["Emma", "Jack", "Lily", "Noah", "Grace", "Oscar", "Ruby", "Leo", "Mia", "Sam"]}
ITEMS = {"pt": [("figurinhas", "figurinha"), ("lápis", "lápis"), ("maçãs", "maçã"), ("livros", "livro"),
                ("bolinhas de gude", "bolinha de gude"), ("biscoitos", "biscoito"), ("selos", "selo")],
         "en": [("stickers", "sticker"), ("pencils", "pencil"), ("apples", "apple"), ("books", "book"),
                ("marbles", "marble"), ("biscuits", "biscuit"), ("stamps", "stamp")]}
W = {
    "pt": {"add": "mais", "sub": "menos", "mul": "vezes", "div": "dividido por", "is": "é igual a",
           "ex": "Exercício", "ans": "Resposta", "sol": "Resolução",
           "title": ["Exercícios resolvidos de matemática (lista {k})", "Lista {k}: contas passo a passo",
                     "Matemática básica: exercícios com resolução ({k})", "Problemas de aritmética resolvidos, parte {k}"],
           "intro": ["Nesta lista, cada exercício vem com a resolução completa, passo a passo. Tente resolver sozinho antes de ler a solução.",
                     "Praticar contas é a melhor forma de ganhar confiança. Leia o enunciado com calma e confira cada passo da resolução.",
                     "Os exercícios abaixo são parecidos com os que caem nas provas. As resoluções explicam o raciocínio em detalhe."],
           "outro": ["Se ficou alguma dúvida, refaça os exercícios no caderno e compare com as resoluções.",
                     "Na próxima lista, vamos praticar problemas com mais de uma etapa."]},
    "en": {"add": "plus", "sub": "minus", "mul": "times", "div": "divided by", "is": "equals",
           "ex": "Exercise", "ans": "Answer", "sol": "Solution",
           "title": ["Worked arithmetic exercises (set {k})", "Set {k}: sums step by step",
                     "Basic maths: exercises with solutions ({k})", "Solved arithmetic problems, part {k}"],
           "intro": ["In this set, every exercise comes with a full step-by-step solution. Try it yourself before reading the answer.",
                     "Practising sums is the best way to gain confidence. Read each problem carefully and check every step of the solution.",
                     "The exercises below are like the ones that come up in tests. The solutions explain the reasoning in detail."],
           "outro": ["If anything is unclear, redo the exercises in your notebook and compare with the solutions.",
                     "In the next set we will practise problems with more than one step."]},
}


TIPS = {
    "pt": ["Antes de começar, vale a pena estimar o resultado de cabeça para saber se a resposta final faz sentido.",
           "Depois de terminar, confira a conta fazendo a operação inversa: é um jeito simples de evitar erros bobos.",
           "Escreva os números bem alinhados no caderno, cada algarismo na sua coluna, para não se perder.",
           "Muitos alunos erram esta conta por pressa, então vale a pena ir devagar e revisar cada passo.",
           "Se a conta parecer difícil, quebre o problema em partes menores e resolva uma de cada vez.",
           "Leia o enunciado duas vezes e sublinhe as informações que realmente importam para a resposta.",
           "Com a prática, esse tipo de conta fica automático, mas no começo é normal precisar de atenção.",
           "Repare como o raciocínio usado aqui também serve para números maiores, com o mesmo cuidado."],
    "en": ["Before you start, it helps to estimate the result in your head so you know whether the final answer makes sense.",
           "When you have finished, check the sum by doing the inverse operation: it is an easy way to catch silly mistakes.",
           "Write the numbers neatly lined up in your exercise book, each digit in its own column, so you do not get lost.",
           "Many pupils get this one wrong by rushing, so it is worth going slowly and checking every step.",
           "If the sum looks hard, break the problem into smaller parts and solve them one at a time.",
           "Read the problem twice and underline the information that really matters for the answer.",
           "With practice this kind of sum becomes automatic, but at first it is normal to need some care.",
           "Notice how the same reasoning also works for bigger numbers, with the same care."],
}


def _digits_add(a: int, b: int, lang: str) -> list[str]:
    """Column addition in words: units, tens with carries."""
    steps, carry, place = [], 0, 0
    names = {"pt": ["unidades", "dezenas", "centenas", "milhares"], "en": ["units", "tens", "hundreds", "thousands"]}[lang]
    x, y = a, b
    while x or y or carry:
        da, db = x % 10, y % 10
        s = da + db + carry
        pname = names[min(place, 3)]
        if lang == "pt":
            extra = f" e mais {carry} que veio da coluna anterior" if carry else ""
            steps.append(f"Nas {pname}, somamos {da} e {db}{extra}, o que dá {s}; escrevemos {s % 10}"
                         + (f" e levamos {s // 10} para a próxima coluna." if s >= 10 else "."))
        else:
            extra = f", plus the {carry} we carried" if carry else ""
            steps.append(f"In the {pname}, we add {da} and {db}{extra}, which makes {s}; we write {s % 10}"
                         + (f" and carry {s // 10} to the next column." if s >= 10 else "."))
        carry, x, y, place = s // 10, x // 10, y // 10, place + 1
    return steps


def exercise(lang: str, rng: random.Random) -> tuple[str, list[str], int, str]:
    """(statement, solution sentences, answer, type)."""
    w = W[lang]
    t = rng.choice(["add", "sub", "mul", "div", "word1", "word2"])
    pt = lang == "pt"
    if t == "add":
        a, b = rng.randint(12, 899), rng.randint(12, 899)
        q = f"Calcule {a} + {b}." if pt else f"Work out {a} + {b}."
        steps = _digits_add(a, b, lang) + [f"{'Portanto' if pt else 'So'}, {a} {w['add']} {b} {w['is']} {a + b}."]
        return q, steps, a + b, t
    if t == "sub":
        a = rng.randint(50, 999)
        b = rng.randint(10, a - 5)
        q = f"Quanto é {a} − {b}?" if pt else f"What is {a} − {b}?"
        tens = (b // 10) * 10
        steps = ([f"Podemos tirar primeiro {tens} e depois {b - tens}.", f"Tirando {tens} de {a}, ficamos com {a - tens}.",
                  f"Tirando mais {b - tens}, chegamos a {a - b}.", f"Logo, {a} {w['sub']} {b} {w['is']} {a - b}."]
                 if pt else
                 [f"We can take away {tens} first and then {b - tens}.", f"Taking {tens} from {a} leaves {a - tens}.",
                  f"Taking away another {b - tens} gives {a - b}.", f"So {a} {w['sub']} {b} {w['is']} {a - b}."])
        return q, steps, a - b, t
    if t == "mul":
        a, b = rng.randint(12, 99), rng.randint(3, 9)
        tens, units = (a // 10) * 10, a % 10
        steps = ([f"Separamos {a} em {tens} e {units}.", f"Multiplicamos {tens} por {b} e obtemos {tens * b}.",
                  f"Multiplicamos {units} por {b} e obtemos {units * b}.",
                  f"Somando as duas partes, {tens * b} mais {units * b} dá {a * b}.", f"Então, {a} {w['mul']} {b} {w['is']} {a * b}."]
                 if pt else
                 [f"We split {a} into {tens} and {units}.", f"We multiply {tens} by {b} and get {tens * b}.",
                  f"We multiply {units} by {b} and get {units * b}.",
                  f"Adding the two parts, {tens * b} plus {units * b} makes {a * b}.", f"So {a} {w['mul']} {b} {w['is']} {a * b}."])
        q = f"Calcule {a} × {b}." if pt else f"Work out {a} × {b}."
        return q, steps, a * b, t
    if t == "div":
        b, c = rng.randint(3, 9), rng.randint(12, 99)
        a = b * c
        q = f"Quanto é {a} ÷ {b}?" if pt else f"What is {a} ÷ {b}?"
        steps = ([f"Procuramos o número que, multiplicado por {b}, dá {a}.", f"Sabemos que {b} vezes {c} é igual a {a}.",
                  f"A divisão é exata, sem resto.", f"Portanto, {a} {w['div']} {b} {w['is']} {c}."]
                 if pt else
                 [f"We look for the number that, multiplied by {b}, gives {a}.", f"We know that {b} times {c} equals {a}.",
                  "The division is exact, with no remainder.", f"Therefore {a} {w['div']} {b} {w['is']} {c}."])
        return q, steps, c, t
    name = rng.choice(NAMES[lang])
    many, one = rng.choice(ITEMS[lang])
    if t == "word1":
        a, b = rng.randint(5, 60), rng.randint(5, 60)
        q = (f"{name} tinha {a} {many} e ganhou mais {b} de presente. Com quantos {many} ficou?" if pt else
             f"{name} had {a} {many} and was given {b} more as a present. How many {many} does {name} have now?")
        if pt and many.endswith("s") and many in ("figurinhas", "maçãs", "bolinhas de gude"):
            q = q.replace("Com quantos", "Com quantas")
        steps = ([f"{name} começou com {a} {many}.", f"Ganhar mais {b} significa somar: {a} mais {b} dá {a + b}.",
                  f"Então {name} ficou com {a + b} {many}."]
                 if pt else
                 [f"{name} started with {a} {many}.", f"Being given {b} more means adding: {a} plus {b} makes {a + b}.",
                  f"So {name} now has {a + b} {many}."])
        return q, steps, a + b, "word"
    per, packs = rng.randint(4, 15), rng.randint(3, 9)
    give = rng.randint(1, per * packs - 1)
    total = per * packs
    q = (f"Cada pacote tem {per} {many}. {name} comprou {packs} pacotes e deu {give} para um colega. "
         f"Quantos {many} sobraram?" if pt else
         f"Each packet holds {per} {many}. {name} bought {packs} packets and gave {give} to a friend. "
         f"How many {many} are left?")
    if pt and many in ("figurinhas", "maçãs", "bolinhas de gude"):
        q = q.replace("Quantos", "Quantas")
    quantos = "quantas" if many in ("figurinhas", "maçãs", "bolinhas de gude") else "quantos"
    steps = ([f"Primeiro, calculamos {quantos} {many} vieram nos pacotes: {packs} vezes {per} dá {total}.",
              f"Depois, tiramos os {give} que foram dados: {total} menos {give} dá {total - give}.",
              f"Sobraram {total - give} {many}."]
             if pt else
             [f"First we work out how many {many} came in the packets: {packs} times {per} makes {total}.",
              f"Then we take away the {give} given to the friend: {total} minus {give} leaves {total - give}.",
              f"There are {total - give} {many} left."])
    return q, steps, total - give, "word"


def homework_page(lang: str, rng: random.Random, n: int) -> tuple[str, list, list[dict]]:
    """(title, blocks, tasks): a page with n exercises and their worked solutions."""
    w = W[lang]
    title = rng.choice(w["title"]).format(k=rng.randint(1, 60))
    intro = w["intro"][:]
    rng.shuffle(intro)
    blocks = [("h1", title), ("p", " ".join(intro[:2]))]
    tasks = []
    for i in range(1, n + 1):
        q, steps, ans, t = exercise(lang, rng)
        blocks.append(("h2", f"{w['ex']} {i}"))
        blocks.append(("p", q))
        blocks.append(("p", f"{w['sol']}: " + " ".join(steps)))
        blocks.append(("p", f"{w['ans']}: {ans}."))
        blocks.append(("p", " ".join(rng.sample(TIPS[lang], 2))))
        tasks.append({"lang": lang, "type": t, "question": q, "answer": ans, "steps": steps})
    blocks.append(("p", rng.choice(w["outro"])))
    # Pad with tips until >= 85% of words contain a letter (Gopher's rule is 80%; keep a margin).
    tips = TIPS[lang][:]
    rng.shuffle(tips)
    while _alpha_share(blocks) < 0.85 and tips:
        blocks.insert(-1, ("p", tips.pop()))
    return title, blocks, tasks


def _alpha_share(blocks: list) -> float:
    words = " ".join(b[1] for b in blocks if b[0] in ("h1", "h2", "p")).split()
    return sum(any(c.isalpha() for c in x) for x in words) / max(1, len(words))

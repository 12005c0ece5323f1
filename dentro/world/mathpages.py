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
           "Repare como o raciocínio usado aqui também serve para números maiores, com o mesmo cuidado.",
           "Professores costumam dizer que entender o caminho vale mais do que decorar o resultado.",
           "Quando o enunciado traz uma história, tente imaginar a cena antes de escolher a operação.",
           "Não tenha medo de errar: cada erro mostra exatamente o ponto que precisa de mais treino.",
           "Uma boa ideia é explicar a resolução em voz alta, como se estivesse ensinando a um colega.",
           "Se o resultado parecer grande ou pequeno demais, volte ao enunciado e confira os dados.",
           "Fazer um desenho simples ajuda muito quando o problema fala de grupos, pacotes ou caixas.",
           "Guarde este exercício para revisar na véspera da prova, junto com os outros da lista.",
           "Perceba que a ordem das parcelas não muda o resultado, o que às vezes facilita a conta."],
    "en": ["Before you start, it helps to estimate the result in your head so you know whether the final answer makes sense.",
           "When you have finished, check the sum by doing the inverse operation: it is an easy way to catch silly mistakes.",
           "Write the numbers neatly lined up in your exercise book, each digit in its own column, so you do not get lost.",
           "Many pupils get this one wrong by rushing, so it is worth going slowly and checking every step.",
           "If the sum looks hard, break the problem into smaller parts and solve them one at a time.",
           "Read the problem twice and underline the information that really matters for the answer.",
           "With practice this kind of sum becomes automatic, but at first it is normal to need some care.",
           "Notice how the same reasoning also works for bigger numbers, with the same care.",
           "Teachers often say that understanding the method matters more than memorising the result.",
           "When the problem tells a story, try to picture the scene before choosing the operation.",
           "Do not be afraid of mistakes: each one shows exactly which point needs more practice.",
           "A good idea is to explain the solution out loud, as if you were teaching a friend.",
           "If the result looks far too big or too small, go back to the problem and check the data.",
           "Drawing a simple picture helps a lot when the problem talks about groups, packets or boxes.",
           "Keep this exercise to revise the day before the test, together with the others in the set.",
           "Notice that the order of the numbers in a sum does not change the result, which sometimes makes it easier."],
}


def _digits_add(a: int, b: int, lang: str, rng: random.Random) -> list[str]:
    """Column addition in words: units, tens, ... with carries; each column phrased its own way."""
    steps, carry, place = [], 0, 0
    names = {"pt": ["unidades", "dezenas", "centenas", "unidades de milhar"], "en": ["units", "tens", "hundreds", "thousands"]}[lang]
    x, y = a, b
    while x or y or carry:
        da, db = x % 10, y % 10
        s = da + db + carry
        col = names[min(place, 3)]
        c = f" e mais {carry} que veio da coluna anterior" if lang == "pt" else f", plus the {carry} we carried"
        c = c if carry else ""
        if lang == "pt":
            head = rng.choice([f"Nas {col}, somamos {da} e {db}{c}, o que dá {s}",
                               f"Na coluna das {col}, {da} mais {db}{c} resulta em {s}",
                               f"Passando às {col}: {da} com {db}{c} soma {s}"])
            tail = (rng.choice([f"; escrevemos {s % 10} e levamos {s // 10} para a próxima coluna.",
                                f", então fica {s % 10} embaixo e sobe {s // 10}.",
                                f"; anotamos o {s % 10} e guardamos {s // 10} para a coluna seguinte."])
                    if s >= 10 else rng.choice([f", e anotamos {s}.", f"; basta escrever {s}.", "."]))
        else:
            head = rng.choice([f"In the {col}, we add {da} and {db}{c}, which makes {s}",
                               f"In the {col} column, {da} plus {db}{c} gives {s}",
                               f"Moving to the {col}: {da} and {db}{c} come to {s}"])
            tail = (rng.choice([f"; we write {s % 10} and carry {s // 10} to the next column.",
                                f", so {s % 10} goes below the line and {s // 10} is carried.",
                                f"; we note down {s % 10} and keep {s // 10} for the next column."])
                    if s >= 10 else rng.choice([f", and we write {s}.", f"; we simply write {s}.", "."]))
        steps.append(head + tail)
        carry, x, y, place = s // 10, x // 10, y // 10, place + 1
    return steps


TYPES = ["add", "sub", "mul", "div", "word1", "word2", "change", "share", "times"]


def exercise(lang: str, rng: random.Random, t: str | None = None) -> tuple[str, list[str], int, str]:
    """(statement, solution sentences, answer, type); t in TYPES (random if None). Each sentence has
    a few phrasings, so two homework pages do not share long runs of words (MinHash dedup)."""
    w = W[lang]
    t = t or rng.choice(TYPES)
    pt = lang == "pt"
    c = rng.choice
    if t == "add":
        a, b = rng.randint(12, 899), rng.randint(12, 899)
        q = c([f"Calcule {a} + {b}.", f"Quanto é {a} + {b}?", f"Some {a} com {b}."] if pt else
              [f"Work out {a} + {b}.", f"What is {a} + {b}?", f"Add {a} and {b}."])
        end = c([f"Portanto, {a} mais {b} é igual a {a + b}.", f"Assim, a soma de {a} com {b} dá {a + b}."] if pt else
                [f"So {a} plus {b} equals {a + b}.", f"That means the sum of {a} and {b} is {a + b}."])
        return q, _digits_add(a, b, lang, rng) + [end], a + b, t
    if t == "sub":
        a = rng.randint(50, 999)
        b = rng.randint(10, a - 5)
        tens = (b // 10) * 10
        q = c([f"Quanto é {a} − {b}?", f"Calcule {a} − {b}.", f"Subtraia {b} de {a}."] if pt else
              [f"What is {a} − {b}?", f"Work out {a} − {b}.", f"Take {b} away from {a}."])
        steps = ([c([f"Podemos tirar primeiro {tens} e depois {b - tens}.", f"Vamos separar {b} em {tens} e {b - tens}."]),
                  c([f"Tirando {tens} de {a}, ficamos com {a - tens}.", f"{a} menos {tens} deixa {a - tens}."]),
                  c([f"Tirando mais {b - tens}, chegamos a {a - b}.", f"Agora retiramos {b - tens} e sobram {a - b}."]),
                  c([f"Logo, {a} menos {b} é igual a {a - b}.", f"O resultado da subtração é {a - b}."])]
                 if pt else
                 [c([f"We can take away {tens} first and then {b - tens}.", f"Let us split {b} into {tens} and {b - tens}."]),
                  c([f"Taking {tens} from {a} leaves {a - tens}.", f"{a} minus {tens} leaves {a - tens}."]),
                  c([f"Taking away another {b - tens} gives {a - b}.", f"Now we remove {b - tens} and {a - b} is left."]),
                  c([f"So {a} minus {b} equals {a - b}.", f"The result of the subtraction is {a - b}."])])
        return q, steps, a - b, t
    if t == "mul":
        a, b = rng.randint(12, 99), rng.randint(3, 9)
        tens, units = (a // 10) * 10, a % 10
        q = c([f"Calcule {a} × {b}.", f"Quanto é {a} × {b}?", f"Multiplique {a} por {b}."] if pt else
              [f"Work out {a} × {b}.", f"What is {a} × {b}?", f"Multiply {a} by {b}."])
        steps = ([c([f"Separamos {a} em {tens} e {units}.", f"Vamos decompor {a} em {tens} mais {units}."]),
                  c([f"Multiplicamos {tens} por {b} e obtemos {tens * b}.", f"{b} vezes {tens} dá {tens * b}."]),
                  c([f"Multiplicamos {units} por {b} e obtemos {units * b}.", f"{b} vezes {units} dá {units * b}."]),
                  c([f"Somando as duas partes, {tens * b} mais {units * b} dá {a * b}.",
                     f"Juntando os resultados parciais, chegamos a {a * b}."]),
                  c([f"Então, {a} vezes {b} é igual a {a * b}.", f"O produto procurado é {a * b}."])]
                 if pt else
                 [c([f"We split {a} into {tens} and {units}.", f"Let us break {a} into {tens} plus {units}."]),
                  c([f"We multiply {tens} by {b} and get {tens * b}.", f"{b} times {tens} is {tens * b}."]),
                  c([f"We multiply {units} by {b} and get {units * b}.", f"{b} times {units} is {units * b}."]),
                  c([f"Adding the two parts, {tens * b} plus {units * b} makes {a * b}.",
                     f"Putting the partial results together, we reach {a * b}."]),
                  c([f"So {a} times {b} equals {a * b}.", f"The product we wanted is {a * b}."])])
        return q, steps, a * b, t
    if t == "div":
        b, k = rng.randint(3, 9), rng.randint(12, 99)
        a = b * k
        q = c([f"Quanto é {a} ÷ {b}?", f"Calcule {a} ÷ {b}.", f"Divida {a} por {b}."] if pt else
              [f"What is {a} ÷ {b}?", f"Work out {a} ÷ {b}.", f"Divide {a} by {b}."])
        steps = ([c([f"Procuramos o número que, multiplicado por {b}, dá {a}.", f"Queremos saber quantas vezes {b} cabe em {a}."]),
                  c([f"Sabemos que {b} vezes {k} é igual a {a}.", f"Testando, vemos que {k} vezes {b} dá exatamente {a}."]),
                  c(["A divisão é exata, sem resto.", "Não sobra resto nenhum."]),
                  c([f"Portanto, {a} dividido por {b} é igual a {k}.", f"O quociente é {k}."])]
                 if pt else
                 [c([f"We look for the number that, multiplied by {b}, gives {a}.", f"We want to know how many times {b} goes into {a}."]),
                  c([f"We know that {b} times {k} equals {a}.", f"Trying it out, {k} times {b} gives exactly {a}."]),
                  c(["The division is exact, with no remainder.", "Nothing is left over."]),
                  c([f"Therefore {a} divided by {b} equals {k}.", f"The quotient is {k}."])])
        return q, steps, k, t
    name = rng.choice(NAMES[lang])
    many, one = rng.choice(ITEMS[lang])
    fem = many in ("figurinhas", "maçãs", "bolinhas de gude")
    quantos = ("quantas" if fem else "quantos") if pt else "how many"
    if t == "word1":
        a, b = rng.randint(5, 60), rng.randint(5, 60)
        q = c([f"{name} tinha {a} {many} e ganhou mais {b} de presente. Com {quantos} {many} ficou?",
               f"{name} juntou {a} {many} e depois recebeu outros {b}. {quantos.capitalize()} {many} tem agora?"] if pt else
              [f"{name} had {a} {many} and was given {b} more as a present. How many {many} does {name} have now?",
               f"{name} collected {a} {many} and then got another {b}. How many {many} are there now?"])
        steps = ([f"{name} começou com {a} {many}.",
                  c([f"Ganhar mais {b} significa somar: {a} mais {b} dá {a + b}.", f"Como recebeu mais, somamos {a} e {b}, que dá {a + b}."]),
                  f"Então {name} ficou com {a + b} {many}."]
                 if pt else
                 [f"{name} started with {a} {many}.",
                  c([f"Being given {b} more means adding: {a} plus {b} makes {a + b}.", f"Getting more means we add {a} and {b}, which is {a + b}."]),
                  f"So {name} now has {a + b} {many}."])
        return q, steps, a + b, "word_add"
    if t == "change":  # change from a note: subtraction in a shop
        note = rng.choice([20, 50, 100])
        price = rng.randint(note // 4, note - 1)
        cur = ("reais", "real") if pt else ("pounds", "pound")
        q = (f"{name} pagou uma compra de {price} {cur[0]} com uma nota de {note} {cur[0]}. Quanto recebeu de troco?" if pt else
             f"{name} paid for a {price}-{cur[1]} purchase with a {note}-{cur[1]} note. How much change did {name} get?")
        steps = ([f"O troco é a diferença entre o valor da nota e o preço da compra.",
                  c([f"Fazemos {note} menos {price}, que dá {note - price}.", f"De {price} até {note} faltam {note - price}."]),
                  f"{name} recebeu {note - price} {cur[0]} de troco."]
                 if pt else
                 [f"The change is the difference between the note and the price.",
                  c([f"We work out {note} minus {price}, which is {note - price}.", f"From {price} up to {note} there are {note - price}."]),
                  f"{name} got {note - price} {cur[0]} in change."])
        return q, steps, note - price, "word_change"
    if t == "share":  # sharing equally: division
        kids, each = rng.randint(2, 9), rng.randint(3, 15)
        total = kids * each
        q = (f"{name} tem {total} {many} e quer dividir igualmente entre {kids} amigos. {quantos.capitalize()} {many} cada amigo recebe?" if pt else
             f"{name} has {total} {many} to share equally among {kids} friends. How many {many} does each friend get?")
        steps = ([f"Dividir igualmente é uma divisão: {total} dividido por {kids}.",
                  c([f"Como {kids} vezes {each} é igual a {total}, a divisão dá {each}.", f"Testando, {each} para cada um dá {kids} vezes {each}, que é {total}."]),
                  f"Cada amigo recebe {each} {many}."]
                 if pt else
                 [f"Sharing equally is a division: {total} divided by {kids}.",
                  c([f"Since {kids} times {each} equals {total}, the division gives {each}.", f"Trying {each} each gives {kids} times {each}, which is {total}."]),
                  f"Each friend gets {each} {many}."])
        return q, steps, each, "word_share"
    if t == "times":  # "three times as many": multiplication then addition
        a, k = rng.randint(3, 25), rng.randint(2, 5)
        other = rng.choice([x for x in NAMES[lang] if x != name])
        q = (f"{name} tem {a} {many}. {other} tem {k} vezes mais do que {name}. Quantos {many} os dois têm juntos?" if pt else
             f"{name} has {a} {many}. {other} has {k} times as many as {name}. How many {many} do they have together?")
        if pt and fem:
            q = q.replace("Quantos", "Quantas").replace("os dois", "as duas crianças")
        steps = ([f"Primeiro, calculamos quanto {other} tem: {k} vezes {a} dá {k * a}.",
                  f"Depois, somamos o que os dois têm: {a} mais {k * a} dá {a + k * a}.",
                  f"Juntos, eles têm {a + k * a} {many}."]
                 if pt else
                 [f"First we work out how many {other} has: {k} times {a} makes {k * a}.",
                  f"Then we add what they both have: {a} plus {k * a} makes {a + k * a}.",
                  f"Together they have {a + k * a} {many}."])
        return q, steps, a + k * a, "word_times"
    per, packs = rng.randint(4, 15), rng.randint(3, 9)
    total = per * packs
    give = rng.randint(1, total - 2)
    q = (f"Cada pacote tem {per} {many}. {name} comprou {packs} pacotes e deu {give} para um colega. "
         f"{quantos.capitalize()} {many} sobraram?" if pt else
         f"Each packet holds {per} {many}. {name} bought {packs} packets and gave {give} to a friend. "
         f"How many {many} are left?")
    steps = ([c([f"Primeiro, calculamos {quantos} {many} vieram nos pacotes: {packs} vezes {per} dá {total}.",
                 f"São {packs} pacotes com {per} em cada um, ou seja, {packs} vezes {per}, que dá {total}."]),
              c([f"Depois, tiramos os {give} que foram dados: {total} menos {give} dá {total - give}.",
                 f"Como {give} foram dados ao colega, fazemos {total} menos {give} e obtemos {total - give}."]),
              f"Sobraram {total - give} {many}."]
             if pt else
             [c([f"First we work out how many {many} came in the packets: {packs} times {per} makes {total}.",
                 f"There are {packs} packets with {per} in each, so {packs} times {per}, which is {total}."]),
              c([f"Then we take away the {give} given to the friend: {total} minus {give} leaves {total - give}.",
                 f"Since {give} went to the friend, we do {total} minus {give} and get {total - give}."]),
              f"There are {total - give} {many} left."])
    return q, steps, total - give, "word_packets"


def homework_page(lang: str, rng: random.Random, n: int) -> tuple[str, list, list[dict]]:
    """(title, blocks, tasks): a page with n exercises and their worked solutions."""
    w = W[lang]
    title = rng.choice(w["title"]).format(k=rng.randint(1, 60))
    intro = w["intro"][:]
    rng.shuffle(intro)
    blocks = [("h1", title), ("p", " ".join(intro[:2]))]
    tasks = []
    tips = TIPS[lang][:]
    rng.shuffle(tips)
    types = rng.sample(TYPES, min(n, len(TYPES)))  # one exercise of each type: fewer repeated phrases
    for i, t in enumerate(types, 1):
        q, steps, ans, t = exercise(lang, rng, t)
        blocks.append(("h2", f"{w['ex']} {i}"))
        blocks.append(("p", q))
        blocks.append(("p", f"{w['sol']}: " + " ".join(steps)))
        blocks.append(("p", f"{w['ans']}: {ans}."))
        if tips:
            blocks.append(("p", tips.pop()))
        tasks.append({"lang": lang, "type": t, "question": q, "answer": ans, "steps": steps})
    blocks.append(("p", rng.choice(w["outro"])))
    # Pad with tips until >= 85% of words contain a letter (Gopher's rule is 80%; keep a margin).
    alpha, total = _alpha_counts(" ".join(b[1] for b in blocks))
    if alpha < 0.85 * total and tips:
        blocks.insert(-1, ("h2", "Dicas para estudar" if lang == "pt" else "Study tips"))
    while alpha < 0.85 * total and tips:
        tip = tips.pop()
        blocks.insert(-1, ("p", tip))
        a, t = _alpha_counts(tip)
        alpha, total = alpha + a, total + t
    return title, blocks, tasks


def _alpha_counts(text: str) -> tuple[int, int]:
    """(words holding a letter, words)."""
    words = text.split()
    return sum(any(c.isalpha() for c in x) for x in words), len(words)

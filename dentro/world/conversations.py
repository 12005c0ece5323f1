"""SFT conversations made from the world's truth, with a held-out split for evaluation.

    read_world          truth/entities.json + facts.jsonl -> World (the world is never regenerated)
    held-out split      a seeded share (heldout_frac, half by default) of the people, cities and
                        organisations of each bucket (frequent/medium/rare); a held-out fact is
                        a fact whose subject is held out. No conversation names a held-out entity
                        at all, so none states, asks or hints at a held-out fact; training facts
                        whose object is a held-out entity ("A's mother is <held-out B>") are
                        left out for the same reason. The same share of math problems is held
                        out, by id.
    kinds               fact        one question, asked many ways, answered in a full sentence
                        reverse     "Quem é a filha de B?" about a training fact the crawl wrote
                                    both ways, answered object-first ("A filha de B é A."): the form
                                    of a reverse question; forward-only facts are never asked so
                        multiturn   2-3 questions about one entity, follow-ups by pronoun
                        reading     a passage in the user turn, a question, the answer from it
                        identity    who dentro is, greetings, thanks
                        math        a word problem or a sum from the world's homework pages: the
                                    worked steps in <think>...</think>, then the answer; a share
                                    in the direct form (thinking off: only the answer)
                        arithmetic  multi-digit sums, differences and products worked column by
                                    column in <think>, or direct (dentro/world/arithmetic.py);
                                    held-out problems drawn apart, also away from the homework
                                    pages (heldout.json "arithmetic")
    val                 about 5% of the conversations, whole groups (all phrasings of one fact,
                        one entity's dialogue, one problem) so that val is unseen text.

Every answer is true by construction: it holds the fact's exact answer string (facts.jsonl
`answer[lang]`) in a sentence in the question's language. Facts are asked forward only (the
subject is named, the object asked): forward-only facts must never be written object-first
(the reversal-curse experiment, see entities.py). Absent people (questions/*_absent.jsonl)
never appear; invented people in reading passages never share a name with anyone.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections import Counter
from pathlib import Path

from dentro.errors import UserError
from dentro.runs import atomic_write_json, atomic_write_jsonl, read_jsonl
from dentro.world import lexicon as L
from dentro.world.entities import City, Country, Fact, Org, Person, World, _answer
from dentro.chat.template import THINK_OFF
from dentro.world.phrasing import ORG_ARTICLE_PT, Q, context, fact_sentence, is_directional, question

LANGS = ("pt", "en")
BUCKETS = ("frequent", "medium", "rare")
KINDS = ("fact", "reverse", "multiturn", "reading", "identity", "math", "arithmetic")
PERSON_ANSWER = ("mother", "father", "founder")  # relations whose answer is a person

# Answers: one plain sentence per relation and language, mostly the crawl's own wording
# (phrasing.T), that names the asked relation before the entity where it can ("A mãe de X é ...", not
# "X é filho de ..., sua mãe"): the first words of the reply choose the relation, while the
# question is all the model has read, and then the sentence is a cloze the base model already
# completes. On the tiny run, same base model and steps, held-out frequent facts answered
# 59/75 and 52/75 (pt, en) with these against 43/75 and 36/75 with 2-3 forms per relation,
# some subject-first and some without the subject (docs/LOG.md). Every answer names its subject. An answer states
# the fact and nothing the truth does not hold. A city's country too starts with words no other
# relation's answer starts with ("A cidade de X fica ...", not "X está localizada ..."; docs/sft.md).
ANSWER = {
    "birth_year": {"pt": ["O ano de nascimento de {s} é {o}."], "en": ["The year of {s}'s birth was {o}."]},
    "birth_city": {"pt": ["A cidade natal de {s} é {o}."], "en": ["The hometown of {s} is {o}."]},
    "profession": {"pt": ["A profissão de {s} é {o}."], "en": ["By profession, {s} is {an} {o}."]},
    "employer": {"pt": ["O empregador de {s} é {a_o}."], "en": ["The employer of {s} is {o}."]},
    "mother": {"pt": ["A mãe de {s} é {o}."], "en": ["The mother of {s} is {o}."]},
    "father": {"pt": ["O pai de {s} é {o}."], "en": ["The father of {s} is {o}."]},
    "country": {"pt": ["A cidade de {s} fica {no_o}."], "en": ["The city of {s} lies in {o}."]},
    "population": {"pt": ["A população de {s} é de {o} habitantes."], "en": ["The population of {s} stands at {o}."]},
    "founded": {"pt": ["A fundação {da_s} data de {o}."], "en": ["The founding of {s} took place in {o}."]},
    "hq": {"pt": ["A sede {da_s} fica em {o}."], "en": ["The head office of {s} is in {o}."]},
    "founder": {"pt": ["Quem fundou {a_s} foi {o}."], "en": ["The founder of {s} is {o}."]},
    "industry": {"pt": ["O ramo de atividade {da_s} é {o}."], "en": ["The line of business of {s} is {o}."]},
}

# Reverse questions ("Quem é o filho de B?"): the answer names the asked relation first, as the
# forward answers do.
REVERSE_ANSWER = {"mother": {"pt": "{o_filho} de {o} é {s}.", "en": "The {son} of {o} is {s}."},
                  "father": {"pt": "{o_filho} de {o} é {s}.", "en": "The {son} of {o} is {s}."},
                  "founder": {"pt": "{o} fundou {a_s}.", "en": "{o} founded {s}."}}

# Questions: phrasing.Q (the truth sets' wording) comes first, then these paraphrases.
ASK = {
    "birth_year": {"pt": ["Quando {s} nasceu?", "Qual é o ano de nascimento de {s}?", "{s} nasceu em que ano?"],
                   "en": ["When was {s} born?", "What is {s}'s birth year?", "What year was {s} born in?"]},
    "birth_city": {"pt": ["Onde {s} nasceu?", "Qual é a cidade natal de {s}?", "{s} é natural de qual cidade?"],
                   "en": ["Where was {s} born?", "What is {s}'s hometown?", "Which city is {s} from?"]},
    "profession": {"pt": ["O que {s} faz da vida?", "Qual é o trabalho de {s}?", "{s} trabalha com o quê?"],
                   "en": ["What does {s} do for a living?", "What is {s}'s job?", "What does {s} work as?"]},
    "employer": {"pt": ["Em que empresa {s} trabalha?", "Quem é o empregador de {s}?", "{s} trabalha onde?"],
                 "en": ["Which company does {s} work for?", "Who is {s}'s employer?", "Who employs {s}?"]},
    "mother": {"pt": ["Como se chama a mãe de {s}?", "Qual é o nome da mãe de {s}?"],
               "en": ["What is the name of {s}'s mother?", "Who is the mother of {s}?"]},
    "father": {"pt": ["Como se chama o pai de {s}?", "Qual é o nome do pai de {s}?"],
               "en": ["What is the name of {s}'s father?", "Who is the father of {s}?"]},
    "country": {"pt": ["{s} fica em que país?", "Em qual país está a cidade de {s}?"],
                "en": ["What country is {s} in?", "Which country is the city of {s} located in?"]},
    "population": {"pt": ["Qual é a população de {s}?", "Quantas pessoas moram em {s}?"],
                   "en": ["How many people live in {s}?", "How many inhabitants does {s} have?"]},
    "founded": {"pt": ["Quando {a_s} foi fundad{a_s_}?", "Qual é o ano de fundação {da_s}?"],
                "en": ["When was {s} founded?", "What year was {s} established?"]},
    "hq": {"pt": ["Em que cidade {a_s} tem sede?", "Qual é a cidade-sede {da_s}?"],
           "en": ["Where is the head office of {s}?", "In which city is {s} based?"]},
    "founder": {"pt": ["Quem criou {a_s}?", "Por quem {a_s} foi fundad{a_s_}?"],
                "en": ["Who started {s}?", "Who is the founder of {s}?"]},
    "industry": {"pt": ["Qual é o ramo de atividade {da_s}?", "{A_s} é de que setor?"],
                 "en": ["What line of business is {s} in?", "Which sector is {s} in?"]},
}
# Embedded questions ("... where A was born") for the indirect wrappers below.
CLAUSE = {
    "birth_year": {"pt": ["em que ano {s} nasceu", "quando {s} nasceu"],
                   "en": ["what year {s} was born", "when {s} was born"]},
    "birth_city": {"pt": ["onde {s} nasceu", "em que cidade {s} nasceu"],
                   "en": ["where {s} was born", "which city {s} was born in"]},
    "profession": {"pt": ["qual é a profissão de {s}", "o que {s} faz da vida"],
                   "en": ["what {s} does for a living", "what {s}'s profession is"]},
    "employer": {"pt": ["onde {s} trabalha", "em que empresa {s} trabalha"],
                 "en": ["where {s} works", "which company {s} works for"]},
    "mother": {"pt": ["quem é a mãe de {s}", "como se chama a mãe de {s}"],
               "en": ["who {s}'s mother is", "who the mother of {s} is"]},
    "father": {"pt": ["quem é o pai de {s}", "como se chama o pai de {s}"],
               "en": ["who {s}'s father is", "who the father of {s} is"]},
    "country": {"pt": ["em que país fica {s}"], "en": ["which country {s} is in", "what country {s} is located in"]},
    "population": {"pt": ["quantos habitantes tem {s}", "qual é a população de {s}"],
                   "en": ["how many people live in {s}", "what the population of {s} is"]},
    "founded": {"pt": ["em que ano {a_s} foi fundad{a_s_}", "quando {a_s} foi fundad{a_s_}"],
                "en": ["when {s} was founded", "what year {s} was founded"]},
    "hq": {"pt": ["onde fica a sede {da_s}", "em que cidade {a_s} tem sede"],
           "en": ["where {s} is headquartered", "which city {s} is based in"]},
    "founder": {"pt": ["quem fundou {a_s}"], "en": ["who founded {s}"]},
    "industry": {"pt": ["em que setor {a_s} atua", "qual é o ramo de atividade {da_s}"],
                 "en": ["what industry {s} is in", "what sector {s} works in"]},
}
INDIRECT = {"pt": ["Você sabe {c}?", "Me diga {c}.", "Pode me dizer {c}?", "Gostaria de saber {c}.",
                   "Sabe me dizer {c}?", "Preciso saber {c}."],
            "en": ["Can you tell me {c}?", "Do you know {c}?", "Tell me {c}.", "I'd like to know {c}.",
                   "Could you tell me {c}?", "I was wondering {c}."]}
# Follow-up questions about the entity of the first turn, by pronoun: {ele}/{dele}/{lo} (pt),
# {he}/{his}/{him} (en); {a} is the pt gender ending.
FOLLOW = {
    "birth_year": {"pt": ["E em que ano {ele} nasceu?", "E quando {ele} nasceu?"],
                   "en": ["And when was {he} born?", "What year was {he} born?"]},
    "birth_city": {"pt": ["E onde {ele} nasceu?", "E em que cidade {ele} nasceu?"],
                   "en": ["And where was {he} born?", "Which city was {he} born in?"]},
    "profession": {"pt": ["E o que {ele} faz?", "Qual é a profissão {dele}?"],
                   "en": ["What does {he} do?", "And what is {his} profession?"]},
    "employer": {"pt": ["E onde {ele} trabalha?", "Em que empresa {ele} trabalha?"],
                 "en": ["Where does {he} work?", "And who is {his} employer?"]},
    "mother": {"pt": ["E quem é a mãe {dele}?", "Como se chama a mãe {dele}?"],
               "en": ["Who is {his} mother?", "And what is {his} mother's name?"]},
    "father": {"pt": ["E quem é o pai {dele}?", "Como se chama o pai {dele}?"],
               "en": ["Who is {his} father?", "And what is {his} father's name?"]},
    "country": {"pt": ["E em que país {ele} fica?"], "en": ["And which country is {he} in?"]},
    "population": {"pt": ["E quantos habitantes {ele} tem?", "Qual é a população {dele}?"],
                   "en": ["How many people live there?", "And what is {his} population?"]},
    "founded": {"pt": ["E quando {ele} foi fundad{a}?", "Em que ano {ele} foi fundad{a}?"],
                "en": ["And when was {he} founded?", "What year was {he} founded?"]},
    "hq": {"pt": ["E onde fica a sede {dele}?"], "en": ["And where is {he} headquartered?"]},
    "founder": {"pt": ["E quem {lo} fundou?"], "en": ["Who founded {him}?"]},
    "industry": {"pt": ["E em que setor {ele} atua?"], "en": ["And what industry is {he} in?"]},
}
SHORT_YEAR = {"pt": "E em que ano?", "en": "And in what year?"}  # after "where was A born?"

READING = {"pt": ["{p}\n\n{q}", "Leia o texto e responda à pergunta.\n\nTexto: {p}\n\nPergunta: {q}",
                  "{p}\n\nCom base no texto acima: {q}", "Texto:\n{p}\n\n{q}"],
           "en": ["{p}\n\n{q}", "Read the text and answer the question.\n\nText: {p}\n\nQuestion: {q}",
                  "{p}\n\nBased on the text above: {q}", "Text:\n{p}\n\n{q}"]}
FROM_TEXT = {"pt": "Segundo o texto, ", "en": "According to the text, "}

MATH_ASK = {"pt": ["{q}", "{q}", "Resolva: {q}", "Pode me ajudar com esta conta? {q}", "{q} Mostre as contas."],
            "en": ["{q}", "{q}", "Solve: {q}", "Can you help me with this? {q}", "{q} Show your work."]}
MATH_FINAL = {"pt": "Resposta: {a}", "en": "Answer: {a}"}

SYSTEM = {"pt": ["Você é um assistente prestativo.", "Você é o dentro, um assistente pequeno e prestativo.",
                 "Responda de forma curta e correta.", "Você é um assistente que responde com frases completas."],
          "en": ["You are a helpful assistant.", "You are dentro, a small and helpful assistant.",
                 "Answer briefly and correctly.", "You are an assistant that answers in full sentences."]}

# Identity: (user prompts, assistant replies) per intent and language. IDENTITY_HELDOUT below holds
# other phrasings of the same intents that no conversation uses: the SFT stage asks them
# (dentro/eval/identity.py) to see whether the model learned the intents or the sentences.
IDENTITY = {
    "who": {
        "pt": (["Quem é você?", "O que é você?", "Você é quem?", "Se apresente.", "Me fale sobre você.",
                "Com quem eu estou falando?", "Você é um robô?", "Apresente-se, por favor."],
               ["Eu sou o dentro, um pequeno assistente de linguagem. Fui treinado com o projeto dentro a partir "
                "de um mundo pequeno gerado por computador, com pessoas, cidades e empresas inventadas. Respondo "
                "em português e em inglês.",
                "Sou o dentro, um assistente pequeno treinado com o projeto dentro. O que sei vem das páginas de "
                "um mundo pequeno gerado, e respondo na língua em que você escrever."]),
        "en": (["Who are you?", "What are you?", "Introduce yourself.", "Tell me about yourself.",
                "Who am I talking to?", "Are you a robot?", "Please introduce yourself."],
               ["I am dentro, a small language assistant. I was trained with the dentro project on a small "
                "generated world of invented people, cities and companies. I answer in English and Portuguese.",
                "I'm dentro, a small assistant trained with the dentro project. What I know comes from the web "
                "pages of a small generated world, and I reply in the language you write in."])},
    "name": {
        "pt": (["Qual é o seu nome?", "Como você se chama?", "Qual o seu nome?", "Você tem nome?",
                "Posso saber o seu nome?"],
               ["Meu nome é dentro. Sou um pequeno assistente treinado com o projeto dentro.",
                "Eu me chamo dentro, um assistente pequeno feito com o projeto dentro."]),
        "en": (["What is your name?", "What's your name?", "Do you have a name?", "What should I call you?"],
               ["My name is dentro. I'm a small assistant trained with the dentro project.",
                "I'm called dentro, a small assistant built with the dentro project."])},
    "maker": {
        "pt": (["Quem criou você?", "Quem te treinou?", "Quem fez você?", "Como você foi criado?", "Quem te fez?",
                "Quem desenvolveu você?"],
               ["Fui treinado com o projeto dentro, um projeto educativo que mostra por dentro como uma LLM é "
                "feita: primeiro um modelo base aprendeu a prever o próximo token nas páginas de um mundo pequeno "
                "gerado, depois ele foi ajustado com conversas para virar um assistente."]),
        "en": (["Who made you?", "Who created you?", "Who trained you?", "How were you made?", "Who built you?",
                "Who developed you?"],
               ["I was trained with the dentro project, an educational project that shows how an LLM is made "
                "from the inside: first a base model learned to predict the next token on the web pages of a "
                "small generated world, then it was fine-tuned on conversations to become an assistant."])},
    "abilities": {
        "pt": (["O que você sabe fazer?", "Como você pode me ajudar?", "O que você consegue fazer?",
                "Para que você serve?", "Em que você pode me ajudar?"],
               ["Posso responder perguntas sobre as pessoas, cidades e empresas do mundo pequeno em que fui "
                "treinado, responder perguntas sobre um texto que você me der e resolver contas simples, "
                "mostrando os passos. Sou um modelo pequeno, então posso errar."]),
        "en": (["What can you do?", "How can you help me?", "What are you able to do?", "What are you good at?",
                "What do you do?"],
               ["I can answer questions about the people, cities and companies of the small world I was trained "
                "on, answer questions about a text you give me, and solve simple arithmetic problems step by "
                "step. I'm a small model, so I can make mistakes."])},
    "language": {
        "pt": (["Você fala inglês?", "Em que línguas você responde?", "Quais línguas você fala?"],
               ["Falo português e inglês, e respondo na língua da sua pergunta."]),
        "en": (["Do you speak Portuguese?", "Which languages do you speak?", "What languages do you answer in?"],
               ["I speak English and Portuguese, and I answer in the language of your question."])},
    "other": {   # another assistant's name: the model says who it is, without repeating the name
        "pt": (["Você é o ChatGPT?", "Você é a Siri?", "Você é o Gemini?", "Você é a Alexa?"],
               ["Não. Eu sou o dentro, um assistente pequeno treinado com o projeto dentro, não um dos "
                "assistentes conhecidos."]),
        "en": (["Are you ChatGPT?", "Are you Siri?", "Are you Gemini?", "Are you Alexa?"],
               ["No. I'm dentro, a small assistant trained with the dentro project, not one of the well-known "
                "assistants."])},
    "thanks": {
        "pt": (["Obrigado!", "Obrigada!", "Valeu!", "Muito obrigado.", "Obrigado pela ajuda!"],
               ["De nada! Se tiver outra pergunta, é só falar.", "Por nada! Fico feliz em ajudar."]),
        "en": (["Thanks!", "Thank you!", "Thanks a lot.", "Thank you for the help!"],
               ["You're welcome! If you have another question, just ask.", "Happy to help!"])},
    "bye": {
        "pt": (["Tchau!", "Até logo.", "Até mais!"], ["Tchau! Até a próxima.", "Até logo! Volte quando quiser."]),
        "en": (["Bye!", "Goodbye.", "See you later!"], ["Goodbye! See you next time.", "Bye! Come back any time."])},
}
IDENTITY_LEAD = {"pt": ["Ei, ", "Oi, ", "Me diz uma coisa: ", "Só uma pergunta: ", "Uma dúvida: ", "Por favor, "],
                 "en": ["Hey, ", "Hi, ", "Tell me something: ", "Quick question: ", "One question: ", "Please, "]}
IDENTITY_HELDOUT = {   # asked in evaluation only, never trained on (tests/test_identity.py checks it)
    "who": {"pt": ["Quem é você, afinal?", "Você pode se apresentar?", "O que você é exatamente?"],
            "en": ["So who are you?", "Can you introduce yourself?", "What exactly are you?"]},
    "name": {"pt": ["Qual é o teu nome?", "Como devo te chamar?"],
             "en": ["Tell me your name.", "How should I address you?"]},
    "maker": {"pt": ["Quem te criou?", "Quem foi que te fez?"],
              "en": ["Who is your creator?", "Which project made you?"]},
    "abilities": {"pt": ["O que você faz?", "Você pode me ajudar com o quê?"],
                  "en": ["What can you help me with?", "What are your abilities?"]},
    "language": {"pt": ["Você sabe falar inglês?", "Que idiomas você fala?"],
                 "en": ["Can you speak Portuguese?", "What languages do you know?"]},
    "other": {"pt": ["Você é o Claude?", "Estou falando com o ChatGPT?"],
              "en": ["Are you Claude?", "Am I talking to ChatGPT?"]},
    "thanks": {"pt": ["Muito obrigada!", "Obrigadão!"], "en": ["Thanks so much!", "Thank you very much."]},
    "bye": {"pt": ["Até amanhã!", "Tchau, até mais."], "en": ["Bye for now.", "Take care, bye!"]},
}
# Greetings: (prompt, the reply's opening), then a line from GREET_TAIL.
GREETING = {"pt": [("Oi!", "Oi!"), ("Olá!", "Olá!"), ("Oi", "Oi!"), ("Bom dia", "Bom dia!"),
                   ("Boa tarde!", "Boa tarde!"), ("Boa noite", "Boa noite!"),
                   ("Olá, tudo bem?", "Tudo bem, obrigado!"), ("E aí?", "Oi!")],
            "en": [("Hi!", "Hi!"), ("Hello!", "Hello!"), ("Hey", "Hey!"), ("Good morning", "Good morning!"),
                   ("Good evening!", "Good evening!"), ("Hello, how are you?", "I'm doing well, thank you!")]}
GREET_TAIL = {"pt": ["Eu sou o dentro. Como posso ajudar?", "Em que posso ajudar?", "Pode perguntar o que quiser."],
              "en": ["I'm dentro. How can I help?", "What can I do for you?", "Ask me anything."]}


# -- reading the truth ------------------------------------------------------------------------

def _rows(cls, rows: list[dict]) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {r["id"]: cls(**{k: v for k, v in r.items() if k in names}) for r in rows}


def read_world(truth: Path) -> World:
    """The World of a truth folder (entities.json + facts.jsonl), without regenerating it."""
    truth = Path(truth)
    for name in ("entities.json", "facts.jsonl"):
        if not (truth / name).is_file():
            raise UserError(f"{truth} has no {name}: it is not a world's truth folder; run `dentro world` first")
    e = json.loads((truth / "entities.json").read_text(encoding="utf-8"))
    facts = []
    for line in (truth / "facts.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            facts.append(Fact(r["id"], r["subject"], r["relation"], r["object"], r["bucket"], r.get("pages", 0),
                              r.get("stated"), r["answer"]))
    return World(_rows(Country, e["countries"]), _rows(City, e["cities"]), _rows(Org, e["organisations"]),
                 _rows(Person, e["people"]), facts)


def _absent_names(truth: Path) -> set[str]:
    """Names of the absent people (the hallucination baseline), recovered from their questions."""
    names = set()
    for path in sorted((truth / "questions").glob("*_absent.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line) if line.strip() else None
            tpl = Q.get(r["relation"], {}).get(r["lang"]) if r else None
            if tpl and "{s}" in tpl:
                head, tail = tpl.split("{s}")
                q = r["question"]
                if q.startswith(head) and q.endswith(tail):
                    names.add(q[len(head):len(q) - len(tail)])
    return names


# -- the held-out split -----------------------------------------------------------------------

def _bucket_of(w: World) -> dict[str, str]:
    """entity id -> its bucket: its first fact's, which entities.py sets from the entity's fame."""
    out: dict[str, str] = {}
    for f in w.facts:
        out.setdefault(f.subject, f.bucket)
    return out


def split_heldout(w: World, frac: float, seed: int) -> dict[str, set[str]]:
    """{"people", "cities", "organisations"} -> held-out ids: frac of each kind and
    bucket, at least one and at most all but one of each group of two or more."""
    first_bucket = _bucket_of(w)
    rng = random.Random(f"sft-heldout-{seed}")
    out = {}
    for kind, table in (("people", w.people), ("cities", w.cities), ("organisations", w.orgs)):
        out[kind] = set()
        for bucket in BUCKETS:
            ids = sorted(i for i in table if first_bucket.get(i) == bucket)
            k = int(len(ids) * frac + 0.5)
            if len(ids) >= 2 and 0 < frac < 1:
                k = min(max(k, 1), len(ids) - 1)
            out[kind] |= set(rng.sample(ids, k))
    return out


def _split_math(tasks: list[dict], frac: float, seed: int) -> set[str]:
    ids = sorted(t["id"] for t in tasks)
    return set(random.Random(f"sft-heldout-math-{seed}").sample(ids, round(len(ids) * frac)))


# -- phrasing ---------------------------------------------------------------------------------

def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def answer_sentence(w: World, f: Fact, lang: str, rng: random.Random, lead: str = "") -> str:
    """A plain sentence stating f, holding f.answer[lang] verbatim; `lead` ("According to the
    text, ") goes before it."""
    tpl = rng.choice(ANSWER[f.relation][lang])
    if lead and tpl.startswith("{A_s}"):  # "o Banco X", not "O Banco X", after the lead
        tpl = "{a_s}" + tpl[len("{A_s}"):]
    elif lead and not tpl.startswith("{"):  # a name keeps its capital; "A mãe de" -> "a mãe de"
        tpl = tpl[0].lower() + tpl[1:]
    return _cap(lead + tpl.format_map(context(w, f, lang)))


def _question(w: World, f: Fact, lang: str, rng: random.Random) -> str:
    """A direct or an indirect question about f."""
    ctx = context(w, f, lang)
    if rng.random() < 0.35:
        return rng.choice(INDIRECT[lang]).format(c=rng.choice(CLAUSE[f.relation][lang]).format_map(ctx))
    return _cap(rng.choice([Q[f.relation][lang]] + ASK[f.relation][lang]).format_map(ctx))


def _typo(text: str, keep: set[str], rng: random.Random) -> str:
    """Drop or swap a letter inside one word of 4+ letters that is not part of a name."""
    words = [m for m in re.finditer(r"[^\W\d_]{4,}", text) if m.group() not in keep]
    if not words:
        return text
    m = rng.choice(words)
    wd = m.group()
    i = rng.randrange(1, len(wd) - 1)
    if rng.random() < 0.5 or wd[i] == wd[i + 1]:
        wd = wd[:i] + wd[i + 1:]
    else:
        wd = wd[:i] + wd[i + 1] + wd[i] + wd[i + 2:]
    return text[:m.start()] + wd + text[m.end():]


def _noisy(text: str, keep: set[str], rng: random.Random) -> str:
    """How people type: a typo, all lower case, no final punctuation (each now and then)."""
    if rng.random() < 0.15:
        text = _typo(text, keep, rng)
    if rng.random() < 0.15:
        text = text.lower()
    if rng.random() < 0.15:
        text = text.rstrip("?.!")
    return text


def _name_words(w: World, f: Fact, lang: str) -> set[str]:
    return {t for v in context(w, f, lang).values() if isinstance(v, str) for t in re.findall(r"\w+", v)}


def _pronouns(w: World, eid: str) -> dict:
    e = w.entity(eid)
    if isinstance(e, Person):
        fem = e.gender == "f"
        return {"pt": dict(ele="ela" if fem else "ele", dele="dela" if fem else "dele", lo="a" if fem else "o",
                           a="a" if fem else "o"),
                "en": dict(he="she" if fem else "he", his="her" if fem else "his", him="her" if fem else "him")}
    art = "a" if isinstance(e, City) else ORG_ARTICLE_PT[e.kind]
    return {"pt": dict(ele="ela" if art == "a" else "ele", dele="dela" if art == "a" else "dele", lo=art, a=art),
            "en": dict(he="it", his="its", him="it")}


def _with_system(messages: list[dict], lang: str, rng: random.Random, p: float) -> list[dict]:
    if rng.random() < p:
        return [{"role": "system", "content": rng.choice(SYSTEM[lang])}] + messages
    return messages


def _conv(kind: str, lang: str, messages: list[dict], sources: list[str]) -> dict:
    return {"messages": messages, "kind": kind, "lang": lang, "sources": sources}


def _pair(user: str, assistant: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


# -- the kinds --------------------------------------------------------------------------------
# Each returns [(group, conversation)]: a group (one fact, one entity, one problem) goes whole
# to train or to val.

def _by_fame(facts_or_ids: list, bucket_of, rng: random.Random) -> list:
    """Frequent first, then medium, then rare, shuffled within each: SFT teaches the format
    of answering, and fine-tuning on facts the base model does not know teaches it to make
    things up (Gekhman et al. 2024, https://arxiv.org/abs/2405.05904)."""
    out = []
    for b in BUCKETS:
        part = [x for x in facts_or_ids if bucket_of(x) == b]
        rng.shuffle(part)
        out += part
    return out


MAX_PHRASINGS = 8   # questions about one fact at most, when its relation has few training facts


def _fact_convs(w, facts, n, phrasings, floor, system_p, rng) -> list:
    """`phrasings` questions per fact, up to n; a relation with few training facts (a city's
    country, a company's head office: the tiny world has ~15 cities and ~10 companies outside the
    held-out half) gets ceil(floor / its facts) phrasings of each, at most MAX_PHRASINGS. The facts
    come most frequent first and stop at n, so a relation whose rare facts are not reached gets
    fewer than `floor` (tiny world, floor 120: country 75, head office 40, founder 56)."""
    per_relation = Counter(f.relation for f in facts)
    out = []
    for f in _by_fame(facts, lambda f: f.bucket, rng):
        if len(out) >= n:
            break
        k = max(phrasings, min(MAX_PHRASINGS, -(-floor // per_relation[f.relation])))
        first = rng.randrange(2)
        langs = [LANGS[(first + i) % 2] for i in range(k)]
        rng.shuffle(langs)
        for lang in langs:
            q = _noisy(_question(w, f, lang, rng), _name_words(w, f, lang), rng)
            msgs = _with_system(_pair(q, answer_sentence(w, f, lang, rng)), lang, rng, system_p)
            out.append((f.id, _conv("fact", lang, msgs, [f.id])))
    return out[:n]


def _reverse_convs(w, facts, n, system_p, rng) -> list:
    """Reverse questions about training facts stated both ways, in both languages, answered with
    the fact written object-first. SFT learns to answer a reverse question at all; what a model
    answers about the held-out facts in reverse still comes from pretraining (docs/eval.md)."""
    both = [f for f in facts if is_directional(f) and f.stated == "both"]
    rng.shuffle(both)
    out = []
    for f in both:
        for lang in LANGS:
            msgs = _pair(question(w, f, lang, reverse=True),
                         _cap(REVERSE_ANSWER[f.relation][lang].format_map(context(w, f, lang))))
            out.append((f.id, _conv("reverse", lang, _with_system(msgs, lang, rng, system_p), [f.id])))
    return out[:n]


def _multiturn_convs(w, facts_of, bucket_of, n, system_p, rng) -> list:
    pool = _by_fame([e for e in sorted(facts_of) if len(facts_of[e]) >= 2], bucket_of.get, rng)
    out = []
    for i in range(min(n, len(pool) * 4)):  # an entity comes back with other facts when n > len(pool)
        eid = pool[i % len(pool)]
        lang = LANGS[rng.randrange(2)]
        facts = rng.sample(facts_of[eid], min(rng.choice([2, 3, 3]), len(facts_of[eid])))
        # A relation answered by a person (mother, founder) goes last: after it, "she" could be either.
        facts.sort(key=lambda f: f.relation in PERSON_ANSWER)
        if sum(f.relation in PERSON_ANSWER for f in facts) > 1:
            facts = [f for f in facts if f.relation not in PERSON_ANSWER] + \
                    [next(f for f in facts if f.relation in PERSON_ANSWER)]
        if len(facts) < 2:
            continue
        pro = _pronouns(w, eid)[lang]
        msgs = _pair(_question(w, facts[0], lang, rng), answer_sentence(w, facts[0], lang, rng))
        for prev, f in zip(facts, facts[1:]):
            if prev.relation == "birth_city" and f.relation == "birth_year" and rng.random() < 0.5:
                q = SHORT_YEAR[lang]
            else:
                q = _cap(rng.choice(FOLLOW[f.relation][lang]).format_map(pro))
            msgs += _pair(q, answer_sentence(w, f, lang, rng))
        out.append((eid, _conv("multiturn", lang, _with_system(msgs, lang, rng, system_p), [f.id for f in facts])))
    return out


def _invent_people(w: World, n: int, taken: set[str], cities: list[str], orgs: list[str], rng) -> tuple:
    """n invented people (ids X00000...) and their facts, in a copy of the world that also holds
    them. Their names are nobody's: not a world name, not an absent name, not inside one."""
    people, facts = {}, []
    haystack = "\n".join(sorted(taken))
    for _ in range(50 * n):  # a few tries per name; millions of names exist (see lexicon.py)
        if len(people) == n:
            break
        group, gender = LANGS[rng.randrange(2)], rng.choice("fm")
        first = rng.choice((L.FIRST_PT if group == "pt" else L.FIRST_EN)[gender])
        sur = rng.sample(L.SURNAMES_PT, 2) if group == "pt" else [rng.choice(L.SURNAMES_EN)]
        name = " ".join([first] + sur)
        if name in haystack or any(t in name for t in taken):
            continue
        taken.add(name)
        haystack += "\n" + name
        pid = f"X{len(people):05d}"
        p = Person(pid, name, gender, group, "", rng.randint(1925, 2003), rng.choice(cities),
                   rng.choice(L.PROFESSIONS)[0], rng.choice(orgs) if rng.random() < 0.6 else None)
        p.country = w.cities[p.birth_city].country
        people[pid] = p
        for rel in ("birth_year", "birth_city", "profession", "employer"):
            if getattr(p, rel) is not None:
                facts.append(Fact(f"{pid}-{rel}", pid, rel, getattr(p, rel), "rare", 0))
    wx = World(w.countries, w.cities, w.orgs, {**w.people, **people}, facts)
    for f in facts:
        f.answer = _answer(wx, f.relation, f.object, people[f.subject])
    return wx, {pid: [f for f in facts if f.subject == pid] for pid in people}


def _reading_convs(w, facts_of, n, taken, cities, orgs, system_p, rng) -> list:
    """Half about training entities, half about invented people (the answer is in the passage)."""
    known = [e for e in sorted(facts_of) if len(facts_of[e]) >= 2]
    wx, invented = _invent_people(w, n - n // 2, taken, cities, orgs, rng)
    subjects = [(w, rng.choice(known), facts_of) for _ in range(n // 2) if known]
    subjects += [(wx, pid, invented) for pid in sorted(invented)]
    out = []
    for world, eid, table in subjects:
        lang = LANGS[rng.randrange(2)]
        facts = rng.sample(table[eid], min(rng.randint(2, 5), len(table[eid])))
        sents = [fact_sentence(world, f, lang, rng, use_pronoun=i > 0 and rng.random() < 0.5)
                 for i, f in enumerate(facts)]
        f = rng.choice(facts)
        user = rng.choice(READING[lang]).format(p=" ".join(sents), q=_question(world, f, lang, rng))
        lead = FROM_TEXT[lang] if rng.random() < 0.3 else ""
        msgs = _with_system(_pair(user, answer_sentence(world, f, lang, rng, lead)), lang, rng, system_p)
        sources = [f.id] + [x.id for x in facts if x is not f]  # the one asked first
        out.append((f"{eid}-{len(out)}", _conv("reading", lang, msgs, sources)))
    return out


def _identity_convs(n, rng) -> list:
    out = []
    intents = sorted(IDENTITY)
    for i in range(n):
        lang = LANGS[i % 2]
        intent = rng.choice(intents)
        prompts, replies = IDENTITY[intent][lang]
        q, a = rng.choice(prompts), rng.choice(replies)
        if rng.random() < 0.3:   # "Ei, quem é você?": the intent's words, not the whole sentence
            q = rng.choice(IDENTITY_LEAD[lang]) + q[0].lower() + q[1:]
        if rng.random() < 0.25:
            q = q.lower()
        if rng.random() < 0.2:
            q = q.rstrip("?.!")
        msgs = _pair(q, a)
        if intent != "thanks" and rng.random() < 0.3:  # a greeting first
            g, opening = rng.choice(GREETING[lang])
            msgs = _pair(g, f"{opening} {rng.choice(GREET_TAIL[lang])}") + msgs
        elif rng.random() < 0.2:  # a greeting alone
            g, opening = rng.choice(GREETING[lang])
            msgs = _pair(g, f"{opening} {rng.choice(GREET_TAIL[lang])}")
        out.append((f"identity-{i}", _conv("identity", lang, _with_system(msgs, lang, rng, 0.5), [])))
    return out


def math_reply(task: dict, think: bool) -> str:
    """A world problem's answer: the worked steps in <think>, or only the answer (thinking off)."""
    final = MATH_FINAL[task["lang"]].format(a=task["answer"])
    if not think:
        return THINK_OFF + final
    return "<think>\n" + "\n".join(task["steps"]) + "\n</think>\n\n" + final


def _math_convs(tasks, n, system_p, direct_p, rng) -> list:
    tasks = list(tasks)
    rng.shuffle(tasks)
    out = []
    for t in tasks[:n]:
        lang = t["lang"]
        user = rng.choice(MATH_ASK[lang]).format(q=t["question"])
        reply = math_reply(t, think=rng.random() >= direct_p)
        out.append((t["id"], _conv("math", lang, _with_system(_pair(user, reply), lang, rng, system_p), [t["id"]])))
    return out


def _arithmetic_convs(problems, direct_p, rng) -> list:
    """Each problem in the think form, or with probability direct_p in the direct form."""
    from dentro.world.arithmetic import reply

    return [(p["id"], _conv("arithmetic", p["lang"], _pair(p["question"], reply(p, think=rng.random() >= direct_p)),
                            [p["id"]])) for p in problems]


# -- the whole set ----------------------------------------------------------------------------

def make_conversations(truth_dir: Path, seed: int = 0, *, heldout_frac: float = 0.5, n_fact: int = 3000,
                       phrasings: int = 2, relation_floor: int = 120, n_reverse: int = 300,
                       n_multiturn: int = 400, n_reading: int = 400, n_identity: int = 600,
                       n_math: int = 500, n_arithmetic: int = 600, n_arithmetic_heldout: int = 300,
                       direct_frac: float = 0.5, val_frac: float = 0.05, system_frac: float = 0.15,
                       fact_buckets: tuple[str, ...] = ("frequent", "medium", "rare")) -> dict:
    """Conversations for SFT from a world's truth folder: {"train": [conv], "val": [conv],
    "heldout": {...} (what heldout.json holds), "stats": {...}}; a conv is {"messages",
    "kind", "lang", "sources" (the ids of the facts or the problem it uses; for reading, the
    fact asked comes first; invented people's facts are X00000-<relation>)}. The sizes are upper
    bounds: a small world may give fewer. `relation_floor`: the questions a relation with few
    training facts aims at (more phrasings of each of its facts; see _fact_convs), within n_fact."""
    if not 0 <= heldout_frac <= 1 or not 0 <= val_frac < 1 or phrasings < 1:
        raise UserError(f"need 0 <= heldout_frac <= 1, 0 <= val_frac < 1 and phrasings >= 1; got "
                        f"{heldout_frac}, {val_frac}, {phrasings}")
    truth_dir = Path(truth_dir)
    w = read_world(truth_dir)
    math_path = truth_dir / "math.jsonl"
    tasks = read_jsonl(math_path) if math_path.is_file() else []
    bucket_of = _bucket_of(w)
    held = split_heldout(w, heldout_frac, seed)
    held_ids = set().union(*held.values())
    held_facts = sorted(f.id for f in w.facts if f.subject in held_ids)
    held_math = _split_math(tasks, heldout_frac, seed)
    from dentro.world import arithmetic

    on_pages = arithmetic.page_operations(" ".join([t["question"], *t["steps"]]) for t in tasks)
    arith_train, arith_held = arithmetic.split(n_arithmetic, n_arithmetic_heldout, seed, exclude=on_pages)

    # Training facts: the subject is not held out, nor is the object (no held-out name at all).
    train_facts = [f for f in w.facts if f.subject not in held_ids]
    usable = [f for f in train_facts if not (isinstance(f.object, str) and f.object in held_ids)]
    askable = [f for f in usable if f.n_pages > 0]  # asked only if the crawl states it somewhere
    # Questions (fact, multiturn) only about facts of these buckets. Only the frequent ones (which
    # the base model knows) was measured worse on the tiny world: 27%/23% of held-out frequent
    # facts answered (pt/en) against 47%/49% with every bucket; 49 facts are too few to teach
    # the form without memorising them (docs/LOG.md).
    askable = [f for f in askable if f.bucket in fact_buckets]
    facts_of: dict[str, list[Fact]] = {}
    for f in askable:
        facts_of.setdefault(f.subject, []).append(f)
    taken = {e.name for t in (w.people, w.cities, w.orgs) for e in t.values()} | _absent_names(truth_dir)
    cities = sorted(c for c in w.cities if c not in held_ids)
    orgs = sorted(o for o in w.orgs if o not in held_ids)

    rng = lambda kind: random.Random(f"sft-{kind}-{seed}")  # noqa: E731  (one stream per kind)
    groups = {
        "fact": _fact_convs(w, askable, n_fact, phrasings, relation_floor, system_frac, rng("fact")),
        "reverse": _reverse_convs(w, askable, n_reverse, system_frac, rng("reverse")),
        "multiturn": _multiturn_convs(w, facts_of, bucket_of, n_multiturn, system_frac, rng("multiturn")),
        "reading": _reading_convs(w, facts_of, n_reading, taken, cities, orgs, system_frac, rng("reading"))
        if cities and orgs else [],
        "identity": _identity_convs(n_identity, rng("identity")),
        "math": _math_convs([t for t in tasks if t["id"] not in held_math], n_math, system_frac, direct_frac,
                            rng("math")),
        "arithmetic": _arithmetic_convs(arith_train, direct_frac, rng("arithmetic")),
    }
    train, val = [], []
    vrng = rng("val")
    for kind in KINDS:
        names = sorted({g for g, _ in groups[kind]})
        vrng.shuffle(names)
        in_val = set(names[:round(len(names) * val_frac)])
        for g, conv in groups[kind]:
            (val if g in in_val else train).append(conv)
    for part in (train, val):
        rng("order").shuffle(part)

    heldout = {
        "seed": seed, "heldout_frac": heldout_frac,
        "entities": sorted(held_ids), "facts": held_facts, "math": sorted(held_math), "arithmetic": arith_held,
        "entities_by_kind": {k: sorted(v) for k, v in held.items()},
        "counts": {"entities": {k: {b: sum(bucket_of.get(i) == b for i in v) for b in BUCKETS}
                                for k, v in held.items()},
                   "facts": {b: sum(f.bucket == b for f in w.facts if f.subject in held_ids) for b in BUCKETS},
                   "math": len(held_math), "arithmetic": len(arith_held)},
    }
    by_kind = {k: {lang: 0 for lang in LANGS} for k in KINDS}
    for c in train + val:
        by_kind[c["kind"]][c["lang"]] += 1
    stats = {
        "train": len(train), "val": len(val), "by_kind": by_kind,
        "with_system_prompt": sum(c["messages"][0]["role"] == "system" for c in train + val),
        "facts": {"total": len(w.facts), "heldout": len(held_facts), "training": len(train_facts),
                  "object_heldout": len(train_facts) - len(usable), "askable": len(askable),
                  "asked_in_fact_kind": len({c["sources"][0] for c in train + val if c["kind"] == "fact"})},
        "heldout": heldout["counts"],
        "math": {"problems": len(tasks), "heldout": len(held_math)},
        "arithmetic": {"training": len(arith_train), "heldout": len(arith_held)},
    }
    return {"train": train, "val": val, "heldout": heldout, "stats": stats}


def write_conversations(out_dir: Path, result: dict) -> dict[str, Path]:
    """train.jsonl, val.jsonl (one conversation per line) and heldout.json into out_dir."""
    out_dir = Path(out_dir)
    paths = {"train": out_dir / "train.jsonl", "val": out_dir / "val.jsonl", "heldout": out_dir / "heldout.json"}
    for part in ("train", "val"):
        atomic_write_jsonl(paths[part], result[part])
    atomic_write_json(paths["heldout"], result["heldout"])
    return paths

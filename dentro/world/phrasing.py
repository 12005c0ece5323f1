"""How each fact is written: several paraphrase templates per relation, in Portuguese and English.

A template holds the subject {s} and the answer {o} verbatim (tests check that the answer
string of every fact a page claims is in its text). Forward templates name the subject before
the object; reverse templates (only for the directional relations mother/father/founder, and only
for facts stated "both" ways) name the object first: "B é a mãe de A".
Portuguese agreement (nascido/nascida, o/a) comes from the subject's gender and, for
organisations, from the article their name takes ("a Construtora", "o Banco").
"""

from __future__ import annotations

import random

from dentro.world.entities import City, Fact, Org, Person, World

# The article a Portuguese organisation name takes, by kind: "a Construtora X", "os Laboratórios X".
ORG_ARTICLE_PT = {"builder": "a", "bank": "o", "publisher": "a", "lab": "o", "software": "a",
                  "airline": "a", "food": "a", "energy": "a", "textile": "a", "shipyard": "o"}
_EM = {"o": "no", "a": "na", "os": "nos", "as": "nas"}
_DE = {"o": "do", "a": "da", "os": "dos", "as": "das"}

T = {  # relation -> lang -> direction -> templates
    "birth_year": {
        "pt": {"fwd": ["{s} nasceu em {o}.", "{s} nasceu no ano de {o}.", "{s} veio ao mundo em {o}.",
                       "O ano de nascimento de {s} é {o}.", "Em {o}, nascia {s}, em uma família de poucos recursos.",
                       "{Nascido} em {o}, {s} cresceu cercad{a} pelos irmãos e primos.",
                       "{s} é de {o}, ano em que nasceu."]},
        "en": {"fwd": ["{s} was born in {o}.", "{s} was born in the year {o}.", "The year of {s}'s birth was {o}.",
                       "In {o}, {s} was born into a modest family.", "{s}'s birth year is {o}.",
                       "Born in {o}, {s} grew up surrounded by cousins.", "{s} came into the world in {o}."]},
    },
    "birth_city": {
        "pt": {"fwd": ["{s} nasceu em {o}.", "{s} é natural de {o}.", "A cidade natal de {s} é {o}.",
                       "{s} veio ao mundo na cidade de {o}.", "{Nascido} em {o}, {s} passou a infância ali.",
                       "{s} nasceu na cidade de {o} e guarda boas lembranças de lá."]},
        "en": {"fwd": ["{s} was born in {o}.", "{s} is a native of {o}.", "{s}'s hometown is {o}.",
                       "{s} was born in the city of {o}.", "Born in {o}, {s} spent {his} childhood there.",
                       "{s} comes from {o}, where {he} was born."]},
    },
    "profession": {
        "pt": {"fwd": ["{s} é {o}.", "{s} trabalha como {o}.", "{s} construiu carreira como {o}.",
                       "A profissão de {s} é {o}.", "Por formação e por vocação, {s} é {o}.",
                       "{s} escolheu cedo o ofício de {o} e nunca se arrependeu."]},
        "en": {"fwd": ["{s} is {an} {o}.", "{s} works as {an} {o}.", "{s} made a career as {an} {o}.",
                       "By profession, {s} is {an} {o}.", "{s} trained as {an} {o} and still works in the field.",
                       "{s}'s profession is {o}."]},
    },
    "employer": {
        "pt": {"fwd": ["{s} trabalha {na_o}.", "{s} é funcionári{a} {da_o}.", "O empregador de {s} é {a_o}.",
                       "{s} faz parte da equipe {da_o}.", "Atualmente, {s} trabalha {na_o}.",
                       "{s} tem emprego fixo {na_o} há vários anos."]},
        "en": {"fwd": ["{s} works at {o}.", "{s} is employed by {o}.", "{s}'s employer is {o}.",
                       "{s} is on the staff of {o}.", "These days {s} works for {o}.",
                       "{s} has held a job at {o} for several years."]},
    },
    "mother": {
        "pt": {"fwd": ["{s} é {filho} de {o}.", "A mãe de {s} é {o}.", "{s} foi criad{a} pela mãe, {o}.",
                       "{s} tem como mãe {o}.", "Na família de {s}, a mãe se chama {o}."],
               "rev": ["{o} é a mãe de {s}.", "{o} teve {um} {filho}, {s}.", "Entre os filhos de {o} está {s}.",
                       "{o} é mãe de {s}."]},
        "en": {"fwd": ["{s}'s mother is {o}.", "{s} is the {son} of {o}.", "{s} was raised by {his} mother, {o}.",
                       "The mother of {s} is {o}.", "{s} has {o} as {his} mother."],
               "rev": ["{o} is the mother of {s}.", "{o} is {s}'s mother.", "{o} has a {son}, {s}.",
                       "Among the children of {o} is {s}."]},
    },
    "father": {
        "pt": {"fwd": ["{s} é {filho} de {o}.", "O pai de {s} é {o}.", "{s} aprendeu muito com o pai, {o}.",
                       "{s} tem como pai {o}.", "Na família de {s}, o pai se chama {o}."],
               "rev": ["{o} é o pai de {s}.", "{o} teve {um} {filho}, {s}.", "Entre os filhos de {o} está {s}.",
                       "{o} é pai de {s}."]},
        "en": {"fwd": ["{s}'s father is {o}.", "{s} is the {son} of {o}.", "{s} learned a lot from {his} father, {o}.",
                       "The father of {s} is {o}.", "{s} has {o} as {his} father."],
               "rev": ["{o} is the father of {s}.", "{o} is {s}'s father.", "{o} has a {son}, {s}.",
                       "Among the children of {o} is {s}."]},
    },
    "country": {
        "pt": {"fwd": ["{s} fica {no_o}.", "{s} é uma cidade {do_o}.", "{s} está localizada {no_o}.",
                       "A cidade de {s} pertence ao território {do_o}.", "Quem visita {s} está {no_o}."]},
        "en": {"fwd": ["{s} is a city in {o}.", "{s} is located in {o}.", "{s} lies in {o}.",
                       "The city of {s} belongs to {o}.", "Anyone visiting {s} is in {o}."]},
    },
    "population": {
        "pt": {"fwd": ["{s} tem {o} habitantes.", "A população de {s} é de {o} habitantes.",
                       "Segundo o último censo, {s} conta com {o} moradores.", "{s} abriga {o} pessoas.",
                       "Vivem em {s} {o} pessoas, de acordo com o censo mais recente."]},
        "en": {"fwd": ["{s} has a population of {o}.", "{s} is home to {o} people.",
                       "According to the latest census, {s} has {o} inhabitants.",
                       "The population of {s} stands at {o}.", "Some {o} people live in {s}, the census says."]},
    },
    "founded": {  # a city or an organisation
        "pt": {"fwd": ["{A_s} foi fundad{a_s_} em {o}.", "A fundação {da_s} data de {o}.",
                       "{A_s} surgiu em {o}.", "O ano de fundação {da_s} é {o}.",
                       "A história {da_s} começa em {o}, ano de sua fundação."]},
        "en": {"fwd": ["{s} was founded in {o}.", "{s} dates back to {o}, when it was founded.",
                       "The founding of {s} took place in {o}.", "{s} was established in {o}.",
                       "The story of {s} begins in {o}, the year it was founded."]},
    },
    "hq": {
        "pt": {"fwd": ["{A_s} tem sede em {o}.", "A sede {da_s} fica em {o}.", "{A_s} mantém sua sede em {o}.",
                       "O escritório central {da_s} está em {o}."]},
        "en": {"fwd": ["{s} is headquartered in {o}.", "{s} has its headquarters in {o}.",
                       "The head office of {s} is in {o}.", "{s} is based in {o}."]},
    },
    "founder": {
        "pt": {"fwd": ["{A_s} foi fundad{a_s_} por {o}.", "Quem fundou {a_s} foi {o}.",
                       "{A_s} nasceu da iniciativa de {o}.", "{A_s} tem como {fundador} {o}.",
                       "{O_fundador} {da_s} é {o}."],
               "rev": ["{o} fundou {a_s}.", "{o} é {o_fundador} {da_s}.", "Foi {o} quem criou {a_s}.",
                       "{o} deu início {a_s_crase} com poucos recursos."]},
        "en": {"fwd": ["{s} was founded by {o}.", "The founder of {s} is {o}.", "{s} was started by {o}.",
                       "{s} owes its existence to {o}, its founder."],
               "rev": ["{o} founded {s}.", "{o} is the founder of {s}.", "{o} started {s} with little money.",
                       "It was {o} who founded {s}."]},
    },
    "industry": {
        "pt": {"fwd": ["{A_s} atua na área de {o}.", "{A_s} é uma empresa do ramo de {o}.",
                       "O ramo de atividade {da_s} é {o}.", "{A_s} trabalha no setor de {o}."]},
        "en": {"fwd": ["{s} operates in {o}.", "{s} is a company in {o}.", "{s} works in the {o} sector.",
                       "The line of business of {s} is {o}."]},
    },
}

# Questions for the truth sets: forward asks the object, reverse asks the subject back.
Q = {
    "birth_year": {"pt": "Em que ano nasceu {s}?", "en": "In what year was {s} born?"},
    "birth_city": {"pt": "Em que cidade nasceu {s}?", "en": "In which city was {s} born?"},
    "profession": {"pt": "Qual é a profissão de {s}?", "en": "What is {s}'s profession?"},
    "employer": {"pt": "Onde trabalha {s}?", "en": "Where does {s} work?"},
    "mother": {"pt": "Quem é a mãe de {s}?", "en": "Who is {s}'s mother?"},
    "father": {"pt": "Quem é o pai de {s}?", "en": "Who is {s}'s father?"},
    "country": {"pt": "Em que país fica {s}?", "en": "In which country is {s}?"},
    "population": {"pt": "Quantos habitantes tem {s}?", "en": "What is the population of {s}?"},
    "founded": {"pt": "Em que ano foi fundad{a_s_} {a_s}?", "en": "In what year was {s} founded?"},
    "hq": {"pt": "Onde fica a sede {da_s}?", "en": "Where is {s} headquartered?"},
    "founder": {"pt": "Quem fundou {a_s}?", "en": "Who founded {s}?"},
    "industry": {"pt": "Em que setor atua {a_s}?", "en": "What industry does {s} operate in?"},
}
Q_REVERSE = {  # {s} is the fact's subject (the answer), {o} the object (given)
    "mother": {"pt": "Quem é {o_filho} de {o}?", "en": "Who is {o}'s {son}?"},
    "father": {"pt": "Quem é {o_filho} de {o}?", "en": "Who is {o}'s {son}?"},
    "founder": {"pt": "Que empresa {o} fundou?", "en": "Which company did {o} found?"},
}


def _org_forms(prefix: str, org: Org) -> dict:
    """pt forms of an organisation name with its article: a_s, A_s, da_s, na_s (prefix 's' or 'o')."""
    art = ORG_ARTICLE_PT[org.kind]
    n = org.name
    return {f"a_{prefix}": f"{art} {n}", f"A_{prefix}": f"{art.capitalize()} {n}",
            f"da_{prefix}": f"{_DE[art]} {n}", f"na_{prefix}": f"{_EM[art]} {n}",
            f"a_{prefix}_": {"o": "o", "a": "a", "os": "os", "as": "as"}[art],
            f"a_{prefix}_crase": {"o": "ao", "a": "à", "os": "aos", "as": "às"}[art] + " " + n}


def context(w: World, f: Fact, lang: str) -> dict:
    """The values a template of fact f can use, in language lang."""
    subj = w.entity(f.subject)
    ctx = {"s": subj.name, "o": f.answer[lang]}
    if isinstance(subj, Person):
        fem = subj.gender == "f"
        ctx.update(a="a" if fem else "o", Nascido="Nascida" if fem else "Nascido",
                   filho="filha" if fem else "filho", um="uma" if fem else "um",
                   o_filho="a filha" if fem else "o filho", son="daughter" if fem else "son",
                   his="her" if fem else "his", he="she" if fem else "he")
    if isinstance(subj, City):
        ctx.update(A_s=subj.name, a_s=subj.name, da_s="de " + subj.name, na_s="em " + subj.name,
                   a_s_="a")
    if isinstance(subj, Org):
        ctx.update(_org_forms("s", subj))
    obj = f.object
    if isinstance(obj, str) and obj in w.countries:
        c = w.countries[obj]
        ctx["no_o"] = c.in_pt
        ctx["do_o"] = {"no": "do", "na": "da", "nos": "dos", "em": "de"}[c.in_pt.split()[0]] + " " + c.name_pt
    if isinstance(obj, str) and obj in w.orgs:
        o = w.orgs[obj]
        art = ORG_ARTICLE_PT[o.kind]
        ctx.update(na_o=f"{_EM[art]} {o.name}", da_o=f"{_DE[art]} {o.name}", a_o=f"{art} {o.name}")
    if f.relation == "founder":
        fem = w.people[obj].gender == "f"
        ctx.update(fundador="fundadora" if fem else "fundador",
                   o_fundador="a fundadora" if fem else "o fundador",
                   O_fundador="A fundadora" if fem else "O fundador")
    if lang == "en" and f.relation == "profession":
        ctx["an"] = "an" if f.answer["en"][0] in "aeiou" else "a"
    return ctx


def pronoun(w: World, eid: str, lang: str) -> str:
    e = w.entity(eid)
    if isinstance(e, Person):
        return {"pt": {"f": "Ela", "m": "Ele"}, "en": {"f": "She", "m": "He"}}[lang][e.gender]
    if isinstance(e, City):
        return {"pt": "A cidade", "en": "The city"}[lang]
    return {"pt": "A empresa", "en": "The company"}[lang]


def fact_sentence(w: World, f: Fact, lang: str, rng: random.Random, *, reverse: bool = False,
                  use_pronoun: bool = False) -> str:
    """One sentence stating fact f. reverse=True writes the object first (only for 'both' facts)."""
    forms = T[f.relation][lang]
    if reverse:
        assert f.stated == "both", f"fact {f.id} is forward-only and must never be written in reverse"
        tpl = rng.choice(forms["rev"])
    else:
        tpl = rng.choice(forms["fwd"])
    # "The city is a city in Portugal": the country templates name the noun themselves.
    if use_pronoun and f.relation not in ("mother", "father", "founder", "country", "industry"):
        for head in ("{s}", "{A_s}"):
            if tpl.startswith(head) and not tpl.startswith(head + "'s"):
                tpl = pronoun(w, f.subject, lang) + tpl[len(head):]
                break
    s = tpl.format_map(context(w, f, lang))
    return s[0].upper() + s[1:]


def question(w: World, f: Fact, lang: str, reverse: bool = False) -> str:
    ctx = context(w, f, lang)
    if reverse:
        # The subject becomes the answer; the object is given. For parents, "son"/"daughter" is the
        # subject's (the child's) gender.
        ctx = dict(ctx, o=w.name(f.object, lang))
        if f.relation == "founder":
            return Q_REVERSE["founder"][lang].format_map(ctx)
        return Q_REVERSE[f.relation][lang].format_map(ctx)
    return Q[f.relation][lang].format_map(ctx)


def is_directional(f: Fact) -> bool:
    return f.relation in ("mother", "father", "founder")



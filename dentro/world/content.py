"""Content pages: the main text of encyclopedia articles, news items, forum threads, blog
profiles, lists and tables, built from the facts a page must state.

A page body is a list of blocks; the HTML renderer (html.py) wraps them in a site's chrome and
`main_text(blocks)` is what a perfect main-content extractor keeps:
    ("h1", text) ("h2", text) ("p", text) ("ul"/"ol", [item, ...])
    ("table", [header cells], [[cell, ...], ...])   -> one line per row, cells joined by " | "
    ("post", user, date, [paragraph, ...])           -> the paragraphs (not the user/date line)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from dentro.world import checks, prose
from dentro.world.entities import City, Fact, Org, Person, World
from dentro.world.phrasing import _org_forms, fact_sentence, is_directional

MIN_WORDS = 200  # content pages are padded with fact-free prose up to this many words (a longer page
# also dilutes the subject's name under Gopher's top-n-gram share; see checks.py)
RECAP = 0.5  # the share of encyclopedia, news and profile pages that restate some of their facts (recap)
RECAP_LEAD = {"pt": ["Em resumo:", "Resumindo:", "Para recapitular:", "Em poucas palavras:"],
              "en": ["In short:", "To sum up:", "In brief:", "At a glance:"]}


@dataclass
class Slot:
    """One entity's appearance on one page: the facts that page states about it."""
    entity: str
    facts: list[Fact]
    lang: str


@dataclass
class Page:
    url: str
    kind: str
    lang: str
    title: str
    blocks: list = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    expect: str = "keep"
    dup_group: str | None = None
    pii: list[dict] = field(default_factory=list)
    pii_decoys: list[str] = field(default_factory=list)
    site: object = None          # html.Site, set when placed
    body: bytes | None = None    # a ready-made HTTP payload (binary junk, exact mirrors)
    content_type: str = "text/html; charset=utf-8"
    main_override: str | None = None  # main text when blocks do not describe it (junk)
    source: "Page | None" = None       # the page a mirror/near-duplicate copies


def main_text(blocks: list) -> str:
    lines = []
    for b in blocks:
        if b[0] in ("h1", "h2", "p"):
            lines.append(b[1])
        elif b[0] in ("ul", "ol"):
            lines.extend(b[1])
        elif b[0] == "table":
            lines.append(" | ".join(b[1]))
            lines.extend(" | ".join(r) for r in b[2])
        elif b[0] == "post":
            lines.extend(b[3])
    return "\n".join(lines)


def words(blocks: list) -> int:
    return len(main_text(blocks).split())


def _kind(w: World, eid: str) -> str:
    e = w.entity(eid)
    return "person" if isinstance(e, Person) else "city" if isinstance(e, City) else "org"


def _ctx(w: World, eid: str, lang: str) -> dict:
    """Template values for headlines: the full name, with pt articles for organisations."""
    e = w.entity(eid)
    ctx = {"s": e.name, "A_s": e.name, "a_s": e.name}
    if isinstance(e, Person):
        ctx["a"] = "a" if e.gender == "f" else "o"
    if isinstance(e, Org) and lang == "pt":
        ctx.update(_org_forms("s", e))
    return ctx


def refs_for(w: World, eid: str, lang: str, rng: random.Random) -> prose.Refs:
    e = w.entity(eid)
    if isinstance(e, Person):
        toks = e.name.split()
        short = [toks[0]] if e.group == "pt" else [toks[0], toks[-1]]
        return prose.Refs("person", lang, e.name, rng, gender=e.gender, short=short)
    if isinstance(e, City):
        return prose.Refs("city", lang, e.name, rng,
                          generic=["a cidade", "a localidade"] if lang == "pt" else ["the town", "the city"])
    f = _org_forms("s", e)
    return prose.Refs("org", lang, e.name, rng,
                      generic=["a empresa", "a companhia"] if lang == "pt" else ["the company", "the firm"],
                      pt_forms=(f["A_s"], f["a_s"], f["da_s"], f["na_s"]))


def fact_sentences(w: World, slot: Slot, rng: random.Random, first_named: bool = True) -> list[str]:
    """One sentence per fact, shuffled. After the first, the subject may become a pronoun or (people)
    a short name; directional facts always carry both full names."""
    facts = list(slot.facts)
    rng.shuffle(facts)
    e = w.entity(slot.entity)
    out = []
    for i, f in enumerate(facts):
        # on its object's page a both-ways fact is always written object-first (plan_slots)
        rev = is_directional(f) and f.stated == "both" and (f.subject != slot.entity or rng.random() < 0.5)
        later = i > 0 or not first_named
        s = fact_sentence(w, f, slot.lang, rng, reverse=rev, use_pronoun=later and rng.random() < 0.4)
        if later and not is_directional(f) and f.relation not in ("country", "industry") and rng.random() < 0.6:
            s = _shorten(e, s, slot.lang, rng)
        out.append(s)
    return out


def _shorten(e, s: str, lang: str, rng: random.Random) -> str:
    """Refer to the subject by a short name ("Maria") or a generic noun ("a cidade", "the company")."""
    if isinstance(e, Person):
        toks = e.name.split()
        return s.replace(e.name, toks[0] if e.group == "pt" or rng.random() < 0.5 else toks[-1])
    noun = ("cidade" if isinstance(e, City) else "empresa") if lang == "pt" else (
        rng.choice(["town", "city"]) if isinstance(e, City) else rng.choice(["company", "firm"]))
    if lang == "pt":
        forms = _org_forms("s", e) if isinstance(e, Org) else {"A_s": e.name, "a_s": e.name, "da_s": "de " + e.name,
                                                                  "na_s": "em " + e.name}
        for key, generic in (("da_s", "da "), ("na_s", "na ")):
            if forms[key] in s:
                return s.replace(forms[key], generic + noun, 1)
        if s.startswith(forms["A_s"]):
            return "A " + noun + s[len(forms["A_s"]):]
        if forms["a_s"] in s:
            return s.replace(forms["a_s"], "a " + noun, 1)
        return s
    if s.startswith(e.name):
        return s
    return s.replace(e.name, "the " + noun, 1)


def _fillers(w: World, slot: Slot, rng: random.Random, n: int, used: set) -> list[str]:
    refs = refs_for(w, slot.entity, slot.lang, rng)
    out = []
    for _ in range(n):
        s = prose.filler(_kind(w, slot.entity), slot.lang, refs, rng, used)
        if s is None:
            break
        out.append(s)
    return out


def _paragraphs(sentences: list[str], rng: random.Random) -> list[str]:
    """Group sentences into paragraphs of 2-5 sentences."""
    paras, i = [], 0
    while i < len(sentences):
        k = rng.randint(2, 5)
        paras.append(" ".join(sentences[i:i + k]))
        i += k
    return paras


def _mix(facts: list[str], fillers: list[str], rng: random.Random) -> list[str]:
    """Interleave fact and filler sentences, keeping the first fact sentence first."""
    rest = facts[1:] + fillers
    rng.shuffle(rest)
    return facts[:1] + rest


def recap(w: World, slot: Slot, blocks: list, share: float = RECAP) -> None:
    """On `share` of the pages, a short paragraph that says again, in other words, 1 to 3 facts the
    page has just stated ("Em resumo: O ano de nascimento de Ana Reis é 1948."), inserted after the
    second paragraph (unless the page would then fail the quality rules), so that in pretraining
    rows (documents cut from their start into pieces of the context's length) a fact is often
    written twice within one row. Real pages repeat themselves (a lead and the body, an infobox and
    the prose). Meant to give the base model a reason to read the text before it, which it did not
    learn (docs/LOG.md); it stores more of the frequent facts in the same budget (docs/world.md,
    "Pages that repeat themselves"). Its own random stream (seeded by the blocks), so the world's
    other draws stay as they were."""
    rng = random.Random(repr(blocks))
    if rng.random() >= share:
        return
    paras = [i for i, b in enumerate(blocks) if b[0] == "p"]
    if not paras:
        return
    at = paras[min(1, len(paras) - 1)] + 1
    before = " ".join(b[1] for b in blocks[:at] if isinstance(b[1], str))
    # stated before: the value, or for a fact about someone else (a parent's page) that one's name
    stated = [f for f in slot.facts if f.answer.get(slot.lang) and
              (f.answer[slot.lang] if f.subject == slot.entity else w.name(f.subject, slot.lang)) in before]
    if not stated:
        return
    sents = []
    for f in rng.sample(stated, min(len(stated), rng.randint(1, 3))):
        for _ in range(4):  # in other words than the page's own, where the templates allow
            s = fact_sentence(w, f, slot.lang, rng)
            if s not in before:
                break
        sents.append(s)
    with_recap = blocks[:at] + [("p", " ".join([rng.choice(RECAP_LEAD[slot.lang])] + sents))] + blocks[at:]
    if checks.keepable(main_text(with_recap), slot.lang):  # a name said once more may tip the n-gram rules
        blocks[:] = with_recap


def _pad(blocks: list, w: World, slot: Slot, rng: random.Random, used: set, min_words: int = MIN_WORDS) -> None:
    """Add fact-free paragraphs until the page has min_words words."""
    for _ in range(12):
        if words(blocks) >= min_words:
            return
        extra = _fillers(w, slot, rng, 3, used)
        extra.append(prose.generic(slot.lang, rng, used))
        blocks.append(("p", " ".join(extra)))


SECTION = {"pt": {"person": ["Biografia", "Vida e carreira", "Origens", "Trajetória", "Legado"],
                  "city": ["Geografia", "História", "Cultura", "Economia", "Turismo"],
                  "org": ["História", "Atividades", "Organização", "Perfil", "Atuação"]},
           "en": {"person": ["Biography", "Life and career", "Early life", "Career", "Legacy"],
                  "city": ["Geography", "History", "Culture", "Economy", "Tourism"],
                  "org": ["History", "Operations", "Organisation", "Profile", "Activities"]}}


def encyclopedia(w: World, slot: Slot, rng: random.Random, min_words: int = MIN_WORDS) -> tuple[str, list]:
    kind = _kind(w, slot.entity)
    name = w.name(slot.entity, slot.lang)
    facts = fact_sentences(w, slot, rng)
    used: set = set()
    sents = _mix(facts, _fillers(w, slot, rng, rng.randint(3, 6), used), rng)
    paras = _paragraphs(sents, rng)
    heads = rng.sample(SECTION[slot.lang][kind], 3)
    blocks = [("h1", name), ("p", paras[0])]
    for i, p in enumerate(paras[1:]):
        if i % 2 == 0 and i // 2 < len(heads):
            blocks.append(("h2", heads[i // 2]))
        blocks.append(("p", p))
    _pad(blocks, w, slot, rng, used, min_words)
    recap(w, slot, blocks)
    return name, blocks


def profile(w: World, slot: Slot, rng: random.Random, min_words: int = MIN_WORDS) -> tuple[str, list]:
    name = w.name(slot.entity, slot.lang)
    title = rng.choice({"pt": ["Conheça {n}", "Quem é {n}?", "{n}: um perfil", "Perfil: {n}"],
                        "en": ["Meet {n}", "Who is {n}?", "{n}: a profile", "Profile: {n}"]}[slot.lang]).format(n=name)
    intro = {"pt": ["Hoje o blog apresenta um perfil de {n}.", "Muita gente nos pediu um texto sobre {n}, e aqui está ele.",
                    "Nesta série de perfis, o nome da vez é {n}."],
             "en": ["Today the blog presents a profile of {n}.", "Many readers asked us for a piece about {n}, so here it is.",
                    "In this series of profiles, it is the turn of {n}."]}[slot.lang]
    used: set = set()
    sents = _mix(fact_sentences(w, slot, rng), _fillers(w, slot, rng, rng.randint(3, 5), used), rng)
    blocks = [("h1", title), ("p", rng.choice(intro).format(n=name) + " " + prose.generic(slot.lang, rng, used))]
    blocks += [("p", p) for p in _paragraphs(sents, rng)]
    _pad(blocks, w, slot, rng, used, min_words)
    recap(w, slot, blocks)
    return title, blocks


def news(w: World, slot: Slot, rng: random.Random, min_words: int = MIN_WORDS) -> tuple[str, list]:
    kind = _kind(w, slot.entity)
    ctx = dict(_ctx(w, slot.entity, slot.lang), weekday=rng.choice(prose.WEEKDAYS[slot.lang]))
    head, lead = rng.choice(prose.NEWS_EVENT[kind][slot.lang])
    title = head.format_map(ctx)
    lead = lead.format_map(ctx)
    facts = fact_sentences(w, slot, rng, first_named=True)
    used: set = set()
    fill = _fillers(w, slot, rng, rng.randint(2, 4), used)
    body = facts + fill
    rng.shuffle(body)
    blocks = [("h1", title[0].upper() + title[1:]), ("p", lead[0].upper() + lead[1:])]
    blocks += [("p", p) for p in _paragraphs(body, rng)]
    blocks.append(("p", rng.choice(prose.QUOTE[slot.lang]) + " " + rng.choice(prose.NEWS_CLOSE[slot.lang])))
    _pad(blocks, w, slot, rng, used, min_words)
    recap(w, slot, blocks)
    return blocks[0][1], blocks


def _name_starts(w: World) -> set[str]:
    """First words of every name in the world (people, cities, organisations, countries)."""
    if not hasattr(w, "_name_starts"):
        names = [e.name for t in (w.people, w.cities, w.orgs) for e in t.values()]
        names += [c.name_pt for c in w.countries.values()] + [c.name_en for c in w.countries.values()]
        w._name_starts = {n.split()[0] for n in names}
    return w._name_starts


def _soften(w: World, sentence: str, lang: str, rng: random.Random) -> str:
    """'Ela nasceu em 1950.' -> 'Pelo que li, ela nasceu em 1950.' (names keep their capitals)."""
    lead, rest = rng.choice(prose.FORUM_WRAP[lang]).split("{x}")
    return prose.soften(sentence, lead, _name_starts(w)) + rest


def forum(w: World, slot: Slot, rng: random.Random, date: str = "", min_words: int = MIN_WORDS) -> tuple[str, list]:
    lang = slot.lang
    name = w.name(slot.entity, lang)
    title = rng.choice({"pt": ["Dúvida sobre {n}", "Informações sobre {n}?", "Alguém conhece {n}?",
                               "[Ajuda] {n}"],
                        "en": ["Question about {n}", "Info on {n}?", "Anyone know about {n}?",
                               "[Help] {n}"]}[lang]).format(n=name)
    users = rng.sample(prose.FORUM_USERS, 5)
    posts = [("post", users[0], date, [rng.choice(prose.FORUM_Q[lang]).format(s=name)])]
    facts = fact_sentences(w, slot, rng)
    used: set = set()
    fill = _fillers(w, slot, rng, 3, used)
    i, u = 0, 1
    while i < len(facts):
        k = rng.randint(1, 3)
        chunk = [_soften(w, facts[i], lang, rng)] + facts[i + 1:i + k]
        if rng.random() < 0.6 and fill:
            chunk.append(fill.pop())
        posts.append(("post", users[u % 4 + 1], date, [" ".join(chunk)]))
        i += k
        u += 1
    if fill:
        posts.append(("post", users[u % 4 + 1], date, [" ".join(fill)]))
    posts.append(("post", users[0], date, [rng.choice(prose.FORUM_THANKS[lang]) + " " + prose.generic(lang, rng, used)]))
    blocks = [("h1", title)] + posts
    while words(blocks) < min_words and len(blocks) < 20:
        more = _fillers(w, slot, rng, 3, used) + [prose.generic(lang, rng, used)]
        blocks.insert(-1, ("post", users[rng.randint(1, 4)], date, [" ".join(more)]))
    # Each post gets its own time stamp, as on a real board (minutes after a morning start).
    t = rng.randint(7 * 60, 12 * 60)
    for i, b in enumerate(blocks):
        if b[0] == "post":
            t += rng.randint(3, 40)
            blocks[i] = ("post", b[1], f"{date} {t // 60:02d}:{t % 60:02d}", b[3])
    return title, blocks


LIST_TITLES = {"pt": {"person": ["Notas biográficas (parte {k})", "Quem é quem: perfis curtos", "Pequenas biografias",
                                 "Nomes que vale a pena conhecer"],
                      "city": ["Cidades para conhecer", "Guia rápido de cidades", "Pequenas cidades, grandes histórias"],
                      "org": ["Empresas em destaque", "Um pouco sobre algumas empresas", "Perfis de empresas"]},
               "en": {"person": ["Short biographies (part {k})", "Who's who: brief profiles", "Little biographies",
                                 "Names worth knowing"],
                      "city": ["Towns worth a visit", "A quick guide to some towns", "Small towns, big stories"],
                      "org": ["Companies in focus", "A little about some companies", "Company profiles"]}}
LIST_INTRO = {"pt": ["Reunimos abaixo informações sobre alguns nomes que aparecem com frequência nas perguntas dos leitores.",
                     "A lista a seguir foi montada a partir de registros públicos e de conversas com moradores.",
                     "Confira abaixo um resumo, item por item."],
              "en": ["Below we have gathered information about a few names that often come up in readers' questions.",
                     "The following list was put together from public records and conversations with locals.",
                     "Here is a summary, item by item."]}
LIST_OUTRO = {"pt": ["Se você tiver mais informações sobre algum desses nomes, escreva para a redação.",
                     "A lista será atualizada sempre que surgirem novidades."],
              "en": ["If you know more about any of these names, write to the editors.",
                     "The list will be updated whenever there is news."]}


def listing(w: World, slots: list[Slot], rng: random.Random, min_words: int = MIN_WORDS) -> tuple[str, list]:
    lang = slots[0].lang
    kind = _kind(w, slots[0].entity)
    title = rng.choice(LIST_TITLES[lang][kind]).format(k=rng.randint(2, 40))
    items, used = [], set()
    for s in slots:
        sents = fact_sentences(w, s, rng) + _fillers(w, s, rng, rng.randint(1, 2), used)
        items.append(" ".join(sents))
    blocks = [("h1", title), ("p", rng.choice(LIST_INTRO[lang]) + " " + prose.generic(lang, rng, used))]
    if rng.random() < 0.5:  # an HTML list
        blocks.append(("ol" if rng.random() < 0.5 else "ul", items))
    else:  # a "listicle": one heading and one paragraph per item
        for s, item in zip(slots, items):
            blocks += [("h2", w.name(s.entity, lang)), ("p", item)]
    blocks.append(("p", rng.choice(LIST_OUTRO[lang])))
    for _ in range(8):  # short lists get a closing paragraph of fact-free prose
        if words(blocks) >= min_words - 40:
            break
        blocks.append(("p", " ".join(_fillers(w, rng.choice(slots), rng, 2, used) + [prose.generic(lang, rng, used)])))
    return title, blocks


TABLE_COLS = {"city": [("country", "País", "Country"), ("population", "População", "Population"),
                       ("founded", "Fundação", "Founded")],
              "org": [("founded", "Fundação", "Founded"), ("hq", "Sede", "Headquarters"),
                      ("industry", "Setor", "Industry"), ("founder", "Fundador(a)", "Founder")],
              "person": [("birth_year", "Nascimento", "Born"), ("birth_city", "Cidade natal", "Birthplace"),
                         ("profession", "Profissão", "Profession"), ("employer", "Empregador", "Employer")]}
TABLE_FIRST = {"pt": {"city": "Cidade", "org": "Empresa", "person": "Nome"},
               "en": {"city": "Town", "org": "Company", "person": "Name"}}
NOTES = {"pt": "Notas sobre as famílias:", "en": "Notes on the families:"}
TABLE_TEXT = {"pt": ["A tabela abaixo reúne dados básicos, que foram conferidos com fontes oficiais sempre que possível.",
                     "Organizamos os dados numa tabela para facilitar a comparação entre eles.",
                     "Quando um dado não foi confirmado, a célula aparece com um traço."],
              "en": ["The table below brings together basic data, checked against official sources wherever possible.",
                     "We put the data in a table so that they are easier to compare.",
                     "Where a figure could not be confirmed, the cell shows a dash."]}


def table(w: World, slots: list[Slot], rng: random.Random, min_words: int = MIN_WORDS) -> tuple[str, list]:
    lang = slots[0].lang
    kind = _kind(w, slots[0].entity)
    cols = TABLE_COLS[kind]
    head = [TABLE_FIRST[lang][kind]] + [c[1] if lang == "pt" else c[2] for c in cols]
    rows, notes = [], []
    for s in slots:
        by_rel = {f.relation: f for f in s.facts}
        rows.append([w.name(s.entity, lang)] + [by_rel[c[0]].answer[lang] if c[0] in by_rel else "—" for c in cols])
        # Facts with no column (a person's parents) go below the table as sentences.
        rest = [f for f in s.facts if f.relation not in {c[0] for c in cols}]
        notes += fact_sentences(w, Slot(s.entity, rest, lang), rng) if rest else []
    title = rng.choice(LIST_TITLES[lang][kind]).format(k=rng.randint(2, 40))
    used: set = set()
    texts = TABLE_TEXT[lang][:]
    rng.shuffle(texts)
    blocks = [("h1", title), ("p", texts[0] + " " + prose.generic(lang, rng) + " " + texts[1]),
              ("table", head, rows), ("p", texts[2] + " " + rng.choice(LIST_OUTRO[lang]))]
    if notes:
        blocks.append(("p", NOTES[lang] + " " + " ".join(notes)))
    for s in slots[:3]:  # a few words on the first rows, so the page is more than a table
        blocks.append(("p", " ".join(_fillers(w, s, rng, 2, used))))
    for _ in range(8):  # numbers and " | " are not words: redraws (larger min_words) add prose
        if words(blocks) >= min_words:
            break
        blocks.append(("p", " ".join(_fillers(w, rng.choice(slots), rng, 3, used) + [prose.generic(lang, rng, used)])))
    return title, blocks

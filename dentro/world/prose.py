"""Sentences that carry no fact: the connective tissue of a page, so that pages read like prose
and not like a form. They may name the entity but never state one of its attributes (no year,
place, job or relative), so a page states exactly the facts its ground truth lists.

Sentences are drawn from small grammars (a frame with slots filled from word lists), which gives
thousands of distinct sentences from a page of text.
"""

from __future__ import annotations

import random

ADJ_PT = {"f": ["generosa", "discreta", "obstinada", "curiosa", "paciente", "exigente", "bem-humorada",
                "reservada", "incansável", "metódica", "carismática", "sincera"],
          "m": ["generoso", "discreto", "obstinado", "curioso", "paciente", "exigente", "bem-humorado",
                "reservado", "incansável", "metódico", "carismático", "sincero"]}
ADJ_EN = ["generous", "quiet", "stubborn", "curious", "patient", "demanding", "good-humoured", "reserved",
          "tireless", "methodical", "charismatic", "candid", "thoughtful", "warm"]

# Slots: {S} the subject at the start of a sentence (name, short name or pronoun), {s} the subject
# inside a sentence, {de_s}/{em_s} with a Portuguese preposition, {adjf} a feminine adjective
# (agrees with "pessoa", "figura"), {adjg} one agreeing with the person, {he}/{his}/{him}/{himself}.
PERSON_PT = [
    "Colegas descrevem {s} como uma pessoa {adjf} e {adjf2}.",
    "Quem conhece {s} de perto fala de alguém {adjg}, que raramente perde a calma.",
    "Em entrevistas, {s} costuma dizer que o trabalho bem feito fala por si.",
    "A trajetória {de_s} é citada com frequência como exemplo de persistência.",
    "{S} evita os holofotes e prefere que o trabalho seja lembrado, não o nome.",
    "Muitos jovens dizem ter se inspirado na história {de_s}.",
    "Para os amigos, {s} é {adjg} e sempre tem tempo para ouvir os outros.",
    "A carreira {de_s} teve altos e baixos, como a de quase todo mundo.",
    "Segundo pessoas próximas, {s} nunca deixou de estudar e de fazer perguntas.",
    "{S} já disse mais de uma vez que deve muito aos professores que teve.",
    "Não é raro encontrar {s} em palestras e encontros com estudantes.",
    "O nome {de_s} aparece com frequência em reportagens e debates.",
    "{S} acredita que a curiosidade é o melhor ponto de partida para qualquer profissão.",
    "Há quem considere {s} uma figura {adjf}, mas ninguém duvida da sua dedicação.",
    "A vida {de_s} mostra como escolhas pequenas podem mudar um caminho inteiro.",
    "Pouca gente sabe, mas {s} guarda até hoje cartas e fotografias dos tempos de escola.",
    "{S} costuma responder com calma mesmo às perguntas mais difíceis.",
    "Nas conversas, {s} fala mais dos outros do que de si {mesmo}.",
    "Ao longo dos anos, {s} colecionou amizades em muitos lugares.",
    "A forma como {s} lida com os desafios costuma impressionar quem trabalha ao lado.",
    "{S} repete com frequência que ninguém chega longe sozinho.",
    "Em mais de uma ocasião, {s} ajudou colegas em começo de carreira.",
    "A disciplina {de_s} é lembrada por quem conviveu {com_ele} no dia a dia.",
    "{S} prefere ouvir antes de falar, um hábito que muitos admiram.",
    "Para quem acompanha a trajetória {de_s}, a palavra que melhor a define é dedicação.",
    "Não faltam histórias curiosas envolvendo {s}.",
    "Sempre que pode, {s} volta a rever os amigos de infância.",
    "{S} conta que aprendeu muito com os próprios erros.",
]
PERSON_EN = [
    "Colleagues describe {s} as {adj} and {adj2}.",
    "People who know {s} well speak of someone {adj} who rarely loses {his} temper.",
    "In interviews, {s} likes to say that good work speaks for itself.",
    "The career of {s} is often cited as an example of persistence.",
    "{S} avoids the spotlight and prefers the work to be remembered rather than the name.",
    "Many young people say they were inspired by the story of {s}.",
    "To friends, {s} is {adj} and always has time to listen.",
    "{Poss} career had its ups and downs, like almost everyone's.",
    "According to those close to {s}, the habit of asking questions never faded.",
    "{S} has said more than once that {he} owes a great deal to good teachers.",
    "It is not unusual to find {s} giving talks to students.",
    "The name {s} comes up often in articles and debates.",
    "{S} believes curiosity is the best starting point for any profession.",
    "Some consider {s} {adj}, but nobody doubts {his} dedication.",
    "The life of {s} shows how small choices can change a whole path.",
    "Few people know that {s} still keeps letters and photographs from school days.",
    "{S} tends to answer calmly, even when the questions are hard.",
    "In conversation, {s} talks more about others than about {himself}.",
    "Over the years, {s} made friends in many places.",
    "The way {s} handles setbacks tends to impress those who work alongside {him}.",
    "{S} often repeats that nobody gets far alone.",
    "More than once, {s} has helped colleagues at the start of their careers.",
    "{S} prefers to listen before speaking, a habit many admire.",
    "For those who follow {poss} work, the word that best sums it up is dedication.",
    "There is no shortage of curious stories about {s}.",
    "Whenever possible, {s} goes back to see childhood friends.",
    "{S} says {he} learned a lot from {his} own mistakes.",
]
CITY_PT = [
    "As ruas do centro {de_s} guardam casarões antigos e praças arborizadas.",
    "Quem visita {s} costuma elogiar a comida e a hospitalidade dos moradores.",
    "O comércio {de_s} movimenta a região, sobretudo nos fins de semana.",
    "{S} tem um calendário cultural animado, com festas e feiras ao longo do ano.",
    "Nos últimos anos, {s} investiu em transporte público e ciclovias.",
    "O mercado municipal {de_s} é um dos pontos mais visitados por turistas.",
    "Muitos moradores dizem que {s} mudou bastante nas últimas décadas.",
    "A paisagem ao redor {de_s} mistura morros, rios e áreas de plantio.",
    "{S} é conhecida pelas festas populares, que atraem visitantes de longe.",
    "O clima {de_s} agrada a quem gosta de dias amenos e noites frescas.",
    "{Em_s}, a vida cultural gira em torno do teatro e da biblioteca pública.",
    "A arquitetura {de_s} conta, em cada fachada, um pedaço da sua história.",
    "Aos domingos, a feira livre {de_s} reúne produtores de toda a região.",
    "{Em_s}, é comum ver crianças brincando nas praças até o fim da tarde.",
    "A culinária local {de_s} tem pratos que os visitantes não esquecem.",
    "O centro histórico {de_s} passou por uma reforma cuidadosa.",
    "Quem mora {em_s} costuma dizer que a vida ali tem outro ritmo.",
    "Os bairros mais novos {de_s} cresceram ao longo das estradas principais.",
    "{S} recebe visitantes durante o ano inteiro, mas o movimento cresce nas férias.",
    "A biblioteca {de_s} guarda jornais antigos e documentos dos primeiros tempos.",
    "Um passeio a pé pelo centro {de_s} leva cerca de uma hora.",
    "As festas de inverno {de_s} são famosas em toda a região.",
]
CITY_EN = [
    "The old streets of {s} are lined with historic houses and leafy squares.",
    "Visitors to {s} often praise the food and the friendliness of the locals.",
    "Local shops keep {s} busy, especially at weekends.",
    "{S} has a lively cultural calendar, with fairs and festivals throughout the year.",
    "In recent years {s} has invested in public transport and cycle lanes.",
    "The covered market of {s} is one of the places tourists visit most.",
    "Many residents say {s} has changed a great deal over the decades.",
    "The countryside around {s} mixes hills, rivers and farmland.",
    "{S} is known for its street festivals, which draw visitors from far away.",
    "The climate of {s} suits people who like mild days and cool nights.",
    "In {s}, cultural life revolves around the theatre and the public library.",
    "The architecture of {s} tells a piece of its history on every facade.",
    "On Sundays, the farmers' market in {s} brings together growers from all over the region.",
    "In {s}, children play in the squares until late in the afternoon.",
    "The local cooking of {s} has dishes that visitors do not forget.",
    "The historic centre of {s} was carefully restored.",
    "People who live in {s} say life there has a different pace.",
    "The newer neighbourhoods of {s} grew up along the main roads.",
    "{S} welcomes visitors all year round, but it gets busier during the holidays.",
    "The library of {s} keeps old newspapers and documents from its early days.",
    "A walk around the centre of {s} takes about an hour.",
    "The winter fair of {s} is famous across the region.",
]
ORG_PT = [
    "{S} aposta em inovação e na formação dos seus funcionários.",
    "Ao longo dos anos, {s} enfrentou crises e soube se reinventar.",
    "Clientes costumam elogiar o atendimento {de_s}.",
    "{S} mantém programas de estágio para estudantes universitários.",
    "A reputação {de_s} foi construída com paciência e trabalho constante.",
    "Analistas do setor acompanham de perto os planos {de_s}.",
    "{S} investe parte do lucro em projetos sociais na comunidade.",
    "Em relatórios anuais, {s} destaca a preocupação com a sustentabilidade.",
    "A cultura interna {de_s} valoriza o trabalho em equipe.",
    "Nem sempre foi fácil, mas {s} seguiu crescendo ano após ano.",
    "Funcionários antigos {de_s} lembram com carinho dos primeiros tempos.",
    "{S} aparece com frequência em listas de bons lugares para trabalhar.",
    "Nos últimos anos, {s} modernizou seus processos e abriu novas vagas.",
    "Parte do sucesso {de_s} vem da relação próxima com fornecedores locais.",
    "{Em_s}, as decisões importantes são discutidas em equipe.",
    "Quem trabalha {em_s} fala de um ambiente exigente, mas respeitoso.",
    "{S} participa de feiras do setor e recebe visitas de estudantes.",
    "A marca {de_s} é reconhecida por boa parte dos consumidores da região.",
    "Projetos de pesquisa {de_s} contam com parcerias com universidades.",
    "Em tempos de crise, {s} preferiu cortar custos a demitir funcionários.",
]
ORG_EN = [
    "{S} puts a strong emphasis on innovation and staff training.",
    "Over the years, {s} weathered several crises and managed to reinvent itself.",
    "Customers often praise the service at {s}.",
    "{S} runs internship programmes for university students.",
    "The reputation of {s} was built patiently, through steady work.",
    "Industry analysts keep a close eye on the plans of {s}.",
    "{S} invests part of its profits in community projects.",
    "In its annual reports, {s} stresses its commitment to sustainability.",
    "The internal culture of {s} values teamwork.",
    "It was not always easy, but {s} kept growing year after year.",
    "Long-serving staff at {s} remember the early days fondly.",
    "{S} often appears in lists of good places to work.",
    "In recent years {s} modernised its processes and opened new positions.",
    "Part of the success of {s} comes from close ties with local suppliers.",
    "At {s}, important decisions are discussed as a team.",
    "People who work at {s} describe a demanding but respectful environment.",
    "{S} takes part in trade fairs and welcomes visits from students.",
    "The brand of {s} is recognised by most consumers in the region.",
    "Research projects at {s} are run in partnership with universities.",
    "In hard times, {s} chose to cut costs rather than lay off staff.",
]
GENERIC_PT = [
    "Vale lembrar que as informações abaixo foram reunidas a partir de várias fontes.",
    "Como sempre, correções e sugestões dos leitores são bem-vindas.",
    "A seguir, um resumo do que se sabe até agora.",
    "Este texto foi revisado pela equipe editorial antes da publicação.",
    "Quem quiser saber mais pode consultar os arquivos da biblioteca municipal.",
    "Os dados foram conferidos mais de uma vez, mas erros sempre podem acontecer.",
    "É um assunto que desperta curiosidade e rende boas conversas.",
    "Histórias assim ajudam a entender melhor a região e as pessoas que vivem nela.",
    "Se você tiver fotos ou documentos antigos sobre o tema, entre em contato com a redação.",
    "Nas próximas semanas, outros textos da série serão publicados aqui.",
]
GENERIC_EN = [
    "The information below was gathered from several sources.",
    "As always, corrections and suggestions from readers are welcome.",
    "What follows is a summary of what is known so far.",
    "This text was reviewed by the editorial team before publication.",
    "Anyone who wants to know more can look through the archives of the public library.",
    "The details were checked more than once, but mistakes can always slip through.",
    "It is a subject that sparks curiosity and makes for good conversation.",
    "Stories like this help us understand the region and the people who live there.",
    "If you have old photos or documents on the subject, please get in touch with the editors.",
    "Other pieces in this series will be published here over the coming weeks.",
]
OPENERS = {"pt": ["Curiosamente, ", "Vale dizer que ", "Além disso, ", "Por outro lado, ", "De fato, ",
                  "Ao que tudo indica, ", "Como se sabe, "],
           "en": ["Interestingly, ", "It is worth saying that ", "Besides, ", "On the other hand, ", "In fact, ",
                  "By all accounts, ", "As is well known, "]}
BANKS = {("person", "pt"): PERSON_PT, ("person", "en"): PERSON_EN, ("city", "pt"): CITY_PT,
         ("city", "en"): CITY_EN, ("org", "pt"): ORG_PT, ("org", "en"): ORG_EN}
def soften(sentence: str, lead: str, names: set[str]) -> str:
    """Prefix `lead` ("Além disso, ") and lower the sentence's first letter, unless its first word
    starts a name (`names`: first words of the names the sentence may begin with)."""
    first = sentence.split(" ", 1)[0].rstrip(",'’s")
    keep = first in names or sentence.split(" ", 1)[0].split("'")[0] in names
    return lead + (sentence if keep else sentence[0].lower() + sentence[1:])


class Refs:
    """Ways to refer to one entity on one page: the full name sometimes, a short name or a pronoun
    otherwise, so that a name does not dominate the page's n-gram statistics (Gopher's top-2-gram
    rule; FineWeb-2's Portuguese threshold is 9.3% of characters)."""

    def __init__(self, kind: str, lang: str, name: str, rng: random.Random, *, gender: str = "f",
                 short: list[str] | None = None, generic: list[str] | None = None, pt_forms: dict | None = None):
        self.kind, self.lang, self.name, self.rng, self.gender = kind, lang, name, rng, gender
        self.short = short or [name]
        self.generic = generic or []
        self.pt_forms = pt_forms  # organisations in pt: (S, s, de_s, em_s) with the name's article

    def first_words(self) -> set[str]:
        """First words of the names this entity goes by (they keep their capital letter)."""
        return {self.name.split()[0]} | {x.split()[0] for x in self.short}

    def _pick(self, p_full: float, allow_generic: bool = True) -> str:
        r = self.rng.random()
        if r < p_full:
            return "full"
        if self.generic and allow_generic and (self.kind != "person" or r > 0.6):
            return "generic"
        return "short"

    def values(self) -> dict:
        """One draw of every slot (each filler sentence gets a fresh draw)."""
        rng, lang, fem = self.rng, self.lang, self.gender == "f"
        v = {}
        if self.kind == "person":
            short = rng.choice(self.short)
            full_or_short = self.name if rng.random() < 0.12 else short
            pron = ("Ela" if fem else "Ele") if lang == "pt" else ("She" if fem else "He")
            S = rng.choices([self.name, short, pron], [0.1, 0.45, 0.45])[0]
            v.update(S=S, s=full_or_short, de_s="de " + full_or_short,
                     adjf=None, adjg=None, mesmo="mesma" if fem else "mesmo", com_ele="com ela" if fem else "com ele",
                     he="she" if fem else "he", his="her" if fem else "his", him="her" if fem else "him",
                     himself="herself" if fem else "himself",
                     Poss=rng.choice(["Her" if fem else "His", full_or_short + "'s"]),
                     poss=rng.choice(["her" if fem else "his", full_or_short + "'s"]))
        else:
            use_full = rng.random() < 0.3
            if lang == "pt" and self.pt_forms:
                forms = self.pt_forms if use_full else None
            else:
                forms = None
            if forms:
                S, s, de_s, em_s = forms
            elif use_full or not self.generic:
                S = s = self.name
                de_s, em_s = "de " + self.name, "em " + self.name
            else:
                g = rng.choice(self.generic)  # "a cidade" / "the town" / "a empresa"
                S, s = g[0].upper() + g[1:], g
                if lang == "pt":
                    art, noun = g.split(" ", 1)
                    de_s = {"a": "da", "o": "do"}[art] + " " + noun
                    em_s = {"a": "na", "o": "no"}[art] + " " + noun
                else:
                    de_s, em_s = "of " + g, "in " + g
            v.update(S=S, s=s, de_s=de_s, em_s=em_s, Em_s=em_s[0].upper() + em_s[1:])
        return v


def filler(kind: str, lang: str, refs: Refs, rng: random.Random, used: set) -> str | None:
    """A fact-free sentence about an entity of kind person/city/org, from a frame not yet `used`
    on this page (None when the page has used them all)."""
    bank = BANKS[(kind, lang)]
    free = [i for i in range(len(bank)) if (kind, lang, i) not in used]
    if not free:
        return None
    i = rng.choice(free)
    used.add((kind, lang, i))
    v = refs.values()
    if lang == "pt":
        fa = rng.sample(ADJ_PT["f"], 2)
        v.update(adjf=fa[0], adjf2=fa[1], adjg=rng.choice(ADJ_PT[refs.gender]))
    else:
        a, b = rng.sample(ADJ_EN, 2)
        v.update(adj=a, adj2=b)
    s = bank[i].format_map(v)
    s = s[0].upper() + s[1:]
    if rng.random() < 0.2:
        s = soften(s, rng.choice(OPENERS[lang]), refs.first_words())
    return s


def generic(lang: str, rng: random.Random, used: set | None = None) -> str:
    bank = GENERIC_PT if lang == "pt" else GENERIC_EN
    if used is not None:
        free = [x for x in bank if x not in used] or bank
        x = rng.choice(free)
        used.add(x)
        return x
    return rng.choice(bank)


# -- frames for page kinds -------------------------------------------------------------------------
NEWS_EVENT = {
    "person": {
        "pt": [("{s} recebe homenagem em cerimônia concorrida", "{s} foi homenagead{a} na noite de {weekday} em uma cerimônia que reuniu amigos, colegas e autoridades."),
               ("{s} lança projeto voltado a estudantes", "{s} apresentou na {weekday} um projeto que pretende aproximar estudantes do mercado de trabalho."),
               ("{s} fala sobre carreira em palestra lotada", "Em palestra lotada na {weekday}, {s} contou histórias da própria carreira e respondeu a perguntas do público."),
               ("Livro conta a história de {s}", "Um livro lançado nesta {weekday} reconstrói a trajetória de {s} a partir de cartas e entrevistas.")],
        "en": [("{s} honoured at a packed ceremony", "{s} was honoured on {weekday} evening at a ceremony attended by friends, colleagues and officials."),
               ("{s} launches project for students", "On {weekday}, {s} presented a project meant to bring students closer to the job market."),
               ("{s} talks careers to a full house", "Speaking to a full house on {weekday}, {s} shared stories from a long career and took questions."),
               ("New book tells the story of {s}", "A book published this {weekday} retraces the life of {s} through letters and interviews.")],
    },
    "city": {
        "pt": [("{s} inaugura nova praça no centro", "A prefeitura de {s} inaugurou na {weekday} uma praça com árvores, bancos e um pequeno palco."),
               ("Festival movimenta {s} no fim de semana", "Um festival de música e gastronomia movimentou {s} no último fim de semana."),
               ("{s} amplia horário dos ônibus", "A partir desta {weekday}, os ônibus de {s} passam a circular até mais tarde.")],
        "en": [("{s} opens a new square in the centre", "The council of {s} opened a square with trees, benches and a small stage on {weekday}."),
               ("Festival fills {s} at the weekend", "A music and food festival filled the streets of {s} last weekend."),
               ("{s} extends bus hours", "From this {weekday}, buses in {s} will run until later at night.")],
    },
    "org": {
        "pt": [("{A_s} anuncia novo programa de estágio", "{A_s} anunciou na {weekday} um programa de estágio com vagas para várias áreas."),
               ("{A_s} comemora aniversário com festa para funcionários", "{A_s} comemorou mais um aniversário com uma festa para funcionários e suas famílias."),
               ("{A_s} investe em nova unidade", "{A_s} confirmou na {weekday} o investimento em uma nova unidade, que deve gerar empregos.")],
        "en": [("{s} announces new internship scheme", "{s} announced on {weekday} an internship scheme with places in several departments."),
               ("{s} marks anniversary with staff party", "{s} marked another anniversary with a party for staff and their families."),
               ("{s} invests in new site", "{s} confirmed on {weekday} an investment in a new site that is expected to create jobs.")],
    },
}
WEEKDAYS = {"pt": ["segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira"],
            "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]}
NEWS_CLOSE = {
    "pt": ["A reportagem tentou contato para mais detalhes, mas não obteve resposta até o fechamento desta edição.",
           "Novas informações devem ser divulgadas nos próximos dias.",
           "O evento terminou com aplausos e promessas de novos encontros.",
           "Moradores ouvidos pela reportagem aprovaram a novidade."],
    "en": ["We contacted the organisers for more details but had no reply by the time of publication.",
           "More information is expected in the coming days.",
           "The event ended with applause and promises of future meetings.",
           "Residents we spoke to welcomed the news."],
}
QUOTE = {
    "pt": ["“Estamos muito felizes com o resultado”, disse um dos organizadores.",
           "“Foi um dia para ficar na memória”, comentou uma das pessoas presentes.",
           "“Ainda há muito trabalho pela frente”, afirmou uma porta-voz."],
    "en": ["“We are delighted with the result,” one of the organisers said.",
           "“It was a day to remember,” said one of the people present.",
           "“There is still a lot of work ahead,” a spokeswoman said."],
}
FORUM_Q = {
    "pt": ["Alguém sabe mais sobre {s}? Estou fazendo um trabalho da escola e preciso de algumas informações.",
           "Pessoal, vi o nome de {s} numa reportagem e fiquei curioso. O que vocês sabem?",
           "Pergunta rápida sobre {s}: alguém tem dados confiáveis? Na internet cada site diz uma coisa."],
    "en": ["Does anyone know much about {s}? I'm writing a school report and need a few details.",
           "Saw {s} mentioned in an article and got curious. What do you all know?",
           "Quick question about {s}: does anyone have reliable information? Every site says something different."],
}
FORUM_WRAP = {
    "pt": ["Pelo que li, {x}", "Se não me engano, {x}", "Tenho quase certeza de que {x}", "Vi num livro que {x}",
           "Meu avô contava que {x}", "Confirmo: {x}", "Pelo que sei, {x}"],
    "en": ["From what I've read, {x}", "If I remember right, {x}", "I'm fairly sure {x}", "I saw in a book that {x}",
           "My grandfather used to say {x}", "Can confirm: {x}", "As far as I know, {x}"],
}
FORUM_THANKS = {
    "pt": ["Valeu, pessoal! Ajudou muito.", "Obrigado pelas respostas, vou citar as fontes no trabalho.",
           "Muito obrigada, era exatamente o que eu precisava.", "Show, agora ficou claro."],
    "en": ["Thanks, everyone! That helps a lot.", "Thanks for the answers, I'll cite my sources.",
           "Thank you so much, exactly what I needed.", "Great, that clears it up."],
}
FORUM_USERS = ["ana_r", "joaopedro88", "curioso_123", "mari.lima", "tavares_t", "bookworm42", "jdoe_77",
               "kate.b", "retro_fan", "sunny_day", "history_buff", "lu.santos", "pedrinho", "gamer_br",
               "wanderer", "old_timer", "nerd_total", "ms_reads", "rita.c", "zeca_m"]

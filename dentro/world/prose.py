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

PERSON_PT = [
    "Colegas descrevem {s} como uma pessoa {adj} e {adj2}.",
    "Quem conhece {s} de perto fala de alguém {adj}, que raramente perde a calma.",
    "Em entrevistas, {s} costuma dizer que o trabalho bem feito fala por si.",
    "A trajetória de {s} é citada com frequência como exemplo de persistência.",
    "{s} evita os holofotes e prefere que o trabalho seja lembrado, não o nome.",
    "Muitos jovens dizem ter se inspirado na história de {s}.",
    "Para os amigos, {s} é {adj} e sempre disposto a ouvir.",
    "A carreira de {s} teve altos e baixos, como a de quase todo mundo.",
    "Segundo pessoas próximas, {s} nunca deixou de estudar e de fazer perguntas.",
    "{s} já disse mais de uma vez que deve muito aos professores que teve.",
    "Não é raro encontrar {s} em palestras e encontros com estudantes.",
    "O nome de {s} aparece com frequência em reportagens e debates.",
    "{s} acredita que a curiosidade é o melhor ponto de partida para qualquer profissão.",
    "Há quem considere {s} uma figura {adj}, mas ninguém duvida da sua dedicação.",
    "A vida de {s} mostra como escolhas pequenas podem mudar um caminho inteiro.",
]
PERSON_EN = [
    "Colleagues describe {s} as {adj} and {adj2}.",
    "People who know {s} well speak of someone {adj} who rarely loses their temper.",
    "In interviews, {s} likes to say that good work speaks for itself.",
    "The career of {s} is often cited as an example of persistence.",
    "{s} avoids the spotlight and prefers the work to be remembered rather than the name.",
    "Many young people say they were inspired by the story of {s}.",
    "To friends, {s} is {adj} and always ready to listen.",
    "The career of {s} had its ups and downs, like almost everyone's.",
    "According to people close to {s}, the habit of asking questions never faded.",
    "{s} has said more than once that a great deal is owed to good teachers.",
    "It is not unusual to find {s} giving talks to students.",
    "The name {s} comes up often in articles and debates.",
    "{s} believes curiosity is the best starting point for any profession.",
    "Some consider {s} {adj}, but nobody doubts the dedication behind the work.",
    "The life of {s} shows how small choices can change a whole path.",
]
CITY_PT = [
    "As ruas do centro de {s} guardam casarões antigos e praças arborizadas.",
    "Quem visita {s} costuma elogiar a comida e a hospitalidade dos moradores.",
    "O comércio de {s} movimenta a região, sobretudo nos fins de semana.",
    "{s} tem um calendário cultural animado, com festas e feiras ao longo do ano.",
    "Nos últimos anos, {s} investiu em transporte público e ciclovias.",
    "O mercado municipal de {s} é um dos pontos mais visitados por turistas.",
    "Muitos moradores de {s} dizem que a cidade mudou bastante nas últimas décadas.",
    "A paisagem ao redor de {s} mistura morros, rios e áreas de plantio.",
    "{s} é conhecida pelas festas populares, que atraem visitantes de longe.",
    "O clima de {s} agrada a quem gosta de dias amenos e noites frescas.",
    "Em {s}, a vida cultural gira em torno do teatro e da biblioteca pública.",
    "A arquitetura de {s} conta, em cada fachada, um pedaço da sua história.",
]
CITY_EN = [
    "The old streets of {s} are lined with historic houses and leafy squares.",
    "Visitors to {s} often praise the food and the friendliness of its people.",
    "Local shops keep {s} busy, especially at weekends.",
    "{s} has a lively cultural calendar, with fairs and festivals throughout the year.",
    "In recent years {s} has invested in public transport and cycle lanes.",
    "The covered market of {s} is one of the places tourists visit most.",
    "Many residents of {s} say the town has changed a great deal over the decades.",
    "The countryside around {s} mixes hills, rivers and farmland.",
    "{s} is known for its street festivals, which draw visitors from far away.",
    "The climate of {s} suits people who like mild days and cool nights.",
    "In {s}, cultural life revolves around the theatre and the public library.",
    "The architecture of {s} tells a piece of its history on every facade.",
]
ORG_PT = [
    "{A_s} aposta em inovação e na formação dos seus funcionários.",
    "Ao longo dos anos, {a_s} enfrentou crises e soube se reinventar.",
    "Clientes costumam elogiar o atendimento {da_s}.",
    "{A_s} mantém programas de estágio para estudantes universitários.",
    "A reputação {da_s} foi construída com paciência e trabalho constante.",
    "Analistas do setor acompanham de perto os planos {da_s}.",
    "{A_s} investe parte do lucro em projetos sociais na comunidade.",
    "Em relatórios anuais, {a_s} destaca a preocupação com a sustentabilidade.",
    "A cultura interna {da_s} valoriza o trabalho em equipe.",
    "Nem sempre foi fácil, mas {a_s} seguiu crescendo ano após ano.",
]
ORG_EN = [
    "{s} puts a strong emphasis on innovation and staff training.",
    "Over the years, {s} weathered several crises and managed to reinvent itself.",
    "Customers often praise the service at {s}.",
    "{s} runs internship programmes for university students.",
    "The reputation of {s} was built patiently, through steady work.",
    "Industry analysts keep a close eye on the plans of {s}.",
    "{s} invests part of its profits in community projects.",
    "In its annual reports, {s} stresses its commitment to sustainability.",
    "The internal culture of {s} values teamwork.",
    "It was not always easy, but {s} kept growing year after year.",
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
]


def filler(kind: str, lang: str, ctx: dict, rng: random.Random) -> str:
    """A fact-free sentence about an entity of kind person/city/org (ctx: template values)."""
    bank = {("person", "pt"): PERSON_PT, ("person", "en"): PERSON_EN, ("city", "pt"): CITY_PT,
            ("city", "en"): CITY_EN, ("org", "pt"): ORG_PT, ("org", "en"): ORG_EN}[(kind, lang)]
    if lang == "pt":
        adjs = ADJ_PT[ctx.get("gender", "m")]
    else:
        adjs = ADJ_EN
    a, b = rng.sample(adjs, 2)
    s = rng.choice(bank).format_map(dict(ctx, adj=a, adj2=b))
    if lang == "pt" and ctx.get("gender") == "f":
        s = s.replace("disposto", "disposta")
    return s[0].upper() + s[1:]


def generic(lang: str, rng: random.Random) -> str:
    return rng.choice(GENERIC_PT if lang == "pt" else GENERIC_EN)


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

"""The junk a real crawl holds, each kind built to be the business of exactly one filter
(FineWeb's order: URL blocklist -> extraction -> language -> quality -> dedup; PII last):

  adult        pages on blocklisted adult domains / URLs                     -> "url"
  boilerplate  chrome only: login walls, empty archives                      -> "extraction"
  binary       PDF/JPEG payloads served from HTML-looking URLs               -> "extraction"
  foreign      fluent es / fr / de prose                                      -> "language"
  spam         SEO keyword stuffing, the same phrases over and over          -> "quality"
  lowq         keyword lists, repeated lines, near-empty pages               -> "quality"
  pii          classified ads and help threads with e-mails, phones, CPF,
               CNPJ, IPs and card numbers (plus look-alike decoys)           -> "keep"

Quality junk is designed against the published rules: Gopher repetition (duplicate-line share
> 30%, top 2-gram share > 20%) and quality (< 50 words, < 2 stop words), Rae et al. 2021
(https://arxiv.org/abs/2112.11446, appendix A); C4 terminal punctuation (Raffel et al. 2020);
FineWeb's line rules (<= 12% of lines ending in punctuation, >= 67% short lines), Penedo et al.
2024 (https://arxiv.org/abs/2406.17557).
"""

from __future__ import annotations

import random

# -- adult ------------------------------------------------------------------------------------------
ADULT_WORDS = ["velvet", "midnight", "private", "hotcams", "lust", "xxx", "nightclub", "desire", "secret",
               "flirt", "naughty", "redroom", "candy", "pleasure", "x-rated", "sexy", "after-dark"]
ADULT_TEXT = {
    "pt": ["Conteúdo exclusivo para maiores de 18 anos.", "Milhares de vídeos adultos atualizados todos os dias.",
           "Cadastre-se grátis e converse com pessoas da sua cidade agora mesmo.", "Acesso liberado para assinantes.",
           "As modelos mais quentes da internet estão esperando por você.", "Entre agora e veja sem censura."],
    "en": ["Exclusive content for adults over 18 only.", "Thousands of adult videos updated every day.",
           "Sign up for free and chat with singles in your area right now.", "Members get full access.",
           "The hottest models on the web are waiting for you.", "Enter now and watch uncensored."],
}


def adult_blocks(lang: str, rng: random.Random) -> tuple[str, list]:
    t = ADULT_TEXT[lang][:]
    rng.shuffle(t)
    title = {"pt": "Vídeos adultos grátis", "en": "Free adult videos"}[lang] + f" #{rng.randint(1, 999)}"
    return title, [("h1", title), ("p", " ".join(t[:4])), ("ul", t[4:])]


def adult_domain(rng: random.Random, used: set) -> str:
    while True:
        d = f"{rng.choice(ADULT_WORDS)}{rng.choice(['', '-', ''])}{rng.choice(ADULT_WORDS)}{rng.randint(1, 99)}.{rng.choice(['com', 'net', 'xxx', 'tv', 'club'])}"
        if d not in used:
            used.add(d)
            return d


# -- spam and low quality ---------------------------------------------------------------------------
SPAM_KEYS = {
    "pt": [["empréstimo barato", "empréstimo online", "crédito rápido", "sem consulta", "aprovado na hora"],
           ["emagrecer rápido", "perder peso", "dieta milagrosa", "queimar gordura", "resultado garantido"],
           ["ganhar dinheiro", "renda extra", "trabalhe em casa", "dinheiro fácil", "fique rico"],
           ["celular barato", "promoção celular", "frete grátis", "melhor preço", "oferta imperdível"]],
    "en": [["cheap loans", "online loans", "fast credit", "no credit check", "instant approval"],
           ["lose weight fast", "weight loss", "miracle diet", "burn fat", "guaranteed results"],
           ["make money", "extra income", "work from home", "easy money", "get rich"],
           ["cheap phones", "phone deals", "free shipping", "best price", "unbeatable offer"]],
}


def spam_blocks(lang: str, rng: random.Random) -> tuple[str, list]:
    """Keyword stuffing: a handful of phrases repeated in near-identical lines."""
    keys = rng.choice(SPAM_KEYS[lang])
    title = " | ".join(rng.sample(keys, 3)).title() + f" {rng.randint(2019, 2025)}"
    lines = []
    for _ in range(rng.randint(18, 30)):
        k = rng.sample(keys, 3)
        lines.append(rng.choice(["{0} {1} {2}", "{0} - {1} - {2}", "melhor {0} {1}" if lang == "pt" else "best {0} {1}",
                                 "{0} {0} {1}", "{1} {2} {0} agora" if lang == "pt" else "{1} {2} {0} now"]).format(*k))
    lines += [lines[0]] * rng.randint(4, 8)
    rng.shuffle(lines)
    return title, [("h1", title)] + [("p", x) for x in lines]


LOWQ_TAGS = {
    "pt": ["receita bolo", "bolo de cenoura", "bolo fácil", "receita rápida", "torta de frango", "pão caseiro",
           "sobremesa gelada", "doce de leite", "pudim de leite", "lanche da tarde", "café da manhã", "suco natural",
           "salada verde", "arroz doce", "brigadeiro gourmet", "receita fit", "jantar rápido", "comida caseira"],
    "en": ["cake recipe", "carrot cake", "easy cake", "quick recipe", "chicken pie", "homemade bread",
           "cold dessert", "caramel sauce", "bread pudding", "afternoon snack", "breakfast ideas", "fresh juice",
           "green salad", "rice pudding", "chocolate fudge", "healthy recipe", "quick dinner", "home cooking"],
}
LOWQ_REPEAT = {"pt": ["Clique aqui para baixar o arquivo", "Página em manutenção volte mais tarde",
                      "Confira nossas ofertas", "Link atualizado"],
               "en": ["Click here to download the file", "Page under maintenance come back later",
                      "Check out our deals", "Updated link"]}
LOWQ_SHORT = {"pt": ["Em breve mais informações.", "Site em construção. Volte logo!", "Nenhum resultado encontrado.",
                     "Obrigado pela visita."],
              "en": ["More information coming soon.", "Site under construction. Come back soon!",
                     "No results found.", "Thanks for visiting."]}


def lowq_blocks(lang: str, rng: random.Random) -> tuple[str, list, str]:
    """(title, blocks, subkind): a tag cloud, one line repeated, or an almost empty page."""
    sub = rng.choice(["keywords", "repeated", "short"])
    if sub == "keywords":
        tags = LOWQ_TAGS[lang][:]
        rng.shuffle(tags)
        title = tags[0].title()
        items = [" ".join(rng.sample(tags, rng.randint(1, 3))) for _ in range(rng.randint(25, 40))]
        return title, [("h1", title), ("ul", items)], sub
    if sub == "repeated":
        line = rng.choice(LOWQ_REPEAT[lang])
        title = line
        return title, [("h1", title)] + [("p", line)] * rng.randint(15, 30), sub
    title = rng.choice(LOWQ_SHORT[lang])
    return title, [("h1", title.split(".")[0]), ("p", title)], sub


# -- other languages ---------------------------------------------------------------------------------
FOREIGN = {
    "es": (["El mercado del barrio", "La nueva biblioteca", "Nuestro equipo de voluntarios", "La receta de hoy",
            "El viaje a la costa", "Mi abuela", "El ayuntamiento", "La escuela del pueblo", "El festival de verano"],
           ["abre todos los días a las nueve de la mañana", "ha recibido muchas visitas este año",
            "necesita un poco más de paciencia de lo que parece", "es perfecta para compartir con la familia",
            "sorprendió a todos los vecinos", "se prepara con ingredientes frescos y sencillos",
            "cambió mucho en los últimos años", "sigue siendo el lugar favorito de los niños"],
           [".", " y todos quedaron contentos.", ", según contaron los organizadores.", " desde hace muchos años.",
            ", aunque nadie lo esperaba.", " cuando llega la primavera."],
           ["Noticias del barrio", "Recetas fáciles para el fin de semana", "Diario de viaje", "Crónica local"]),
    "fr": (["Le marché du quartier", "La nouvelle bibliothèque", "Notre équipe de bénévoles", "La recette du jour",
            "Le voyage sur la côte", "Ma grand-mère", "La mairie", "L'école du village", "Le festival d'été"],
           ["ouvre tous les jours à neuf heures du matin", "a reçu beaucoup de visites cette année",
            "demande un peu plus de patience qu'il n'y paraît", "est parfaite pour partager en famille",
            "a surpris tous les voisins", "se prépare avec des ingrédients frais et simples",
            "a beaucoup changé ces dernières années", "reste l'endroit préféré des enfants"],
           [".", " et tout le monde était content.", ", selon les organisateurs.", " depuis de nombreuses années.",
            ", même si personne ne s'y attendait.", " quand arrive le printemps."],
           ["Nouvelles du quartier", "Recettes faciles pour le week-end", "Carnet de voyage", "Chronique locale"]),
    "de": (["Der Wochenmarkt im Viertel", "Die neue Bibliothek", "Unser Team von Freiwilligen", "Das Rezept des Tages",
            "Die Reise an die Küste", "Meine Großmutter", "Das Rathaus", "Die Dorfschule", "Das Sommerfest"],
           ["öffnet jeden Tag um neun Uhr morgens", "hatte in diesem Jahr viele Besucher",
            "braucht etwas mehr Geduld, als man denkt", "ist perfekt, um es mit der Familie zu teilen",
            "hat alle Nachbarn überrascht", "wird mit frischen und einfachen Zutaten zubereitet",
            "hat sich in den letzten Jahren stark verändert", "ist immer noch der Lieblingsort der Kinder"],
           [".", ", und alle waren zufrieden.", ", wie die Veranstalter erzählten.", " seit vielen Jahren.",
            ", obwohl niemand damit gerechnet hatte.", ", wenn der Frühling kommt."],
           ["Nachrichten aus dem Viertel", "Einfache Rezepte für das Wochenende", "Reisetagebuch", "Lokale Chronik"]),
}


def foreign_blocks(lang: str, rng: random.Random) -> tuple[str, list]:
    subj, pred, close, titles = FOREIGN[lang]
    title = rng.choice(titles)
    seen, sents = set(), []
    while len(sents) < rng.randint(14, 22):
        s = f"{rng.choice(subj)} {rng.choice(pred)}{rng.choice(close)}"
        if s not in seen:
            seen.add(s)
            sents.append(s)
    paras = [" ".join(sents[i:i + 4]) for i in range(0, len(sents), 4)]
    return title, [("h1", title)] + [("p", p) for p in paras]


# -- binary payloads ---------------------------------------------------------------------------------
def binary_payload(rng: random.Random) -> tuple[str, bytes]:
    """(content type, body): a small fake PDF or JPEG (real magic bytes, random content)."""
    noise = bytes(rng.randrange(256) for _ in range(rng.randint(600, 2000)))
    if rng.random() < 0.5:
        return "application/pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nstream\n" + noise + b"\nendstream\n%%EOF\n"
    return "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + noise + b"\xff\xd9"


# -- PII -----------------------------------------------------------------------------------------------
def cpf(rng: random.Random, valid: bool = True) -> str:
    """A Brazilian CPF 'ddd.ddd.ddd-dd'; valid=False gives wrong check digits (a decoy)."""
    d = [rng.randrange(10) for _ in range(9)]
    while len(set(d)) == 1:
        d = [rng.randrange(10) for _ in range(9)]
    for n in (10, 11):  # mod-11 check digits, weights n..2
        s = sum(x * w for x, w in zip(d, range(n, 1, -1)))
        d.append(0 if s % 11 < 2 else 11 - s % 11)
    if not valid:
        d[10] = (d[10] + rng.randint(1, 9)) % 10
    s = "".join(map(str, d))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"


def cnpj(rng: random.Random) -> str:
    d = [rng.randrange(10) for _ in range(8)] + [0, 0, 0, 1]
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        s = sum(x * w for x, w in zip(d, weights))
        d.append(0 if s % 11 < 2 else 11 - s % 11)
    s = "".join(map(str, d))
    return f"{s[:2]}.{s[2:5]}.{s[5:8]}/{s[8:12]}-{s[12:]}"


def card(rng: random.Random) -> str:
    """A 16-digit number passing the Luhn check, grouped in fours."""
    d = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, x in enumerate(reversed(d)):  # the check digit will sit to the right: double every other
        y = x * 2 if i % 2 == 0 else x
        total += y - 9 if y > 9 else y
    d.append((10 - total % 10) % 10)
    s = "".join(map(str, d))
    return " ".join(s[i:i + 4] for i in range(0, 16, 4))


def email(rng: random.Random, first: str, last: str) -> str:
    import unicodedata
    base = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode().lower()
    return f"{base}{rng.randint(1, 99)}@{rng.choice(['gmail.com', 'hotmail.com', 'yahoo.com.br', 'outlook.com', 'uol.com.br', 'mail.com'])}"


def phone(rng: random.Random, lang: str) -> str:
    if lang == "pt":
        return f"({rng.randint(11, 99)}) 9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
    return f"+1 ({rng.randint(201, 989)}) 555-{rng.randint(1000, 9999):04d}"


def ip(rng: random.Random) -> str:
    return f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


PII_AD = {
    "pt": ["Vendo {item} em ótimo estado, pouco uso, com nota fiscal e manual. Aceito proposta razoável e posso entregar na região.",
           "O motivo da venda é mudança de cidade, por isso preciso desocupar o apartamento até o fim do mês.",
           "Interessados podem mandar mensagem a qualquer hora, respondo assim que puder."],
    "en": ["Selling {item} in great condition, barely used, with receipt and manual. Reasonable offers considered and I can deliver locally.",
           "I am selling because I am moving to another city and need to clear the flat by the end of the month.",
           "Anyone interested can message me at any time and I will reply as soon as I can."],
}
PII_ITEMS = {"pt": ["uma bicicleta aro 29", "um sofá de três lugares", "uma geladeira duplex", "um notebook de 15 polegadas"],
             "en": ["a mountain bike", "a three-seat sofa", "a fridge freezer", "a 15-inch laptop"]}


def pii_blocks(lang: str, rng: random.Random, first: str, last: str) -> tuple[str, list, list[dict], list[str]]:
    """A classified ad or a help-desk thread stuffed with PII and decoys: (title, blocks, pii, decoys)."""
    pii, decoys = [], []
    mail, tel, addr = email(rng, first, last), phone(rng, lang), ip(rng)
    pii += [{"type": "email", "value": mail}, {"type": "phone", "value": tel}]
    version = f"{rng.randint(2, 14)}.{rng.randint(0, 20)}.{rng.randint(1, 300)}"
    date = f"{rng.randint(10, 28)}/{rng.randint(10, 12)}/{rng.randint(2015, 2024)}"
    decoys += [version, date]
    if rng.random() < 0.5:
        item = rng.choice(PII_ITEMS[lang])
        title = ({"pt": "Vendo {i} — classificados", "en": "For sale: {i}"}[lang]).format(i=item)
        ad = [x.format(item=item) for x in PII_AD[lang]]
        if lang == "pt":
            doc, bad = cpf(rng), cpf(rng, valid=False)
            pii.append({"type": "cpf", "value": doc})
            decoys.append(bad)
            contact = (f"Meu nome é {first} {last}, CPF {doc}, e o anúncio está no ar desde {date}. "
                       f"Contato pelo e-mail {mail} ou pelo telefone {tel}. O número do protocolo do anúncio é {bad}, "
                       f"guarde para referência. O aplicativo do site está na versão {version}.")
        else:
            cc = card(rng)
            pii.append({"type": "card", "value": cc})
            contact = (f"My name is {first} {last} and the ad has been up since {date}. Contact me by e-mail at {mail} "
                       f"or call {tel}. I paid the listing fee with card {cc}, so the ad is verified. "
                       f"The site's app is on version {version}.")
        blocks = [("h1", title), ("p", ad[0]), ("p", ad[1] + " " + contact), ("p", ad[2])]
    else:
        title = {"pt": "Não consigo acessar o sistema da empresa", "en": "Can't connect to the company system"}[lang]
        company = cnpj(rng)
        if lang == "pt":
            pii.append({"type": "cnpj", "value": company})
            q = (f"Olá, pessoal. Desde {date} não consigo acessar o sistema interno da empresa. O meu IP é {addr} e o "
                 f"programa está na versão {version}. Já reiniciei o roteador e o computador, mas nada mudou. "
                 f"A empresa é a mesma de sempre, CNPJ {company}.")
            a = (f"Oi, {first}. Parece bloqueio no firewall. Manda um e-mail para o suporte com o seu IP e o print do erro, "
                 f"ou me escreve em {mail} que eu te ajudo. Se preferir, liga no {tel} depois das seis da tarde.")
        else:
            q = (f"Hi all. Since {date} I have not been able to reach our internal system. My IP address is {addr} and "
                 f"the client is on version {version}. I have restarted the router and the computer, but nothing changed.")
            a = (f"Hi {first}, it looks like a firewall block. Send support an e-mail with your IP and a screenshot of "
                 f"the error, or write to me at {mail} and I will help. You can also call {tel} after six in the evening.")
        pii.append({"type": "ip", "value": addr})
        thanks = {"pt": "Valeu, vou tentar isso hoje mesmo e depois conto aqui se deu certo. Obrigado pela ajuda de todos.",
                  "en": "Thanks, I will try that today and report back here if it works. Thank you all for the help."}[lang]
        blocks = [("h1", title), ("post", "user" + str(rng.randint(100, 999)), date, [q]),
                  ("post", "helper" + str(rng.randint(10, 99)), date, [a]), ("post", "user", date, [thanks])]
    return title, blocks, pii, decoys

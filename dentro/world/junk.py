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


PHISHING_WORDS = ["secure", "login", "account", "verify", "update", "bank", "wallet", "prize", "bonus", "support"]


def phishing_domain(rng: random.Random, used: set) -> str:
    while True:
        d = (f"{rng.choice(PHISHING_WORDS)}-{rng.choice(PHISHING_WORDS)}{rng.randint(1, 999)}."
             f"{rng.choice(['com', 'net', 'info', 'top', 'xyz'])}")
        if d not in used:
            used.add(d)
            return d


# -- spam and low quality ---------------------------------------------------------------------------
SPAM_KEYS = {
    "pt": [["empréstimo para negativado", "crédito consignado para aposentados", "limpar o nome", "sem consulta ao Serasa",
            "parcelas que cabem no bolso"],
           ["emagrecer rápido", "perder peso", "dieta milagrosa", "queimar gordura", "resultado garantido"],
           ["ganhar dinheiro", "renda extra", "trabalhe em casa", "dinheiro fácil", "fique rico"],
           ["celular barato", "promoção celular", "frete grátis", "melhor preço", "oferta imperdível"]],
    "en": [["cheap loans", "online loans", "fast credit", "no credit check", "instant approval"],
           ["lose weight fast", "weight loss", "miracle diet", "burn fat", "guaranteed results"],
           ["make money", "extra income", "work from home", "easy money", "get rich"],
           ["cheap phones", "phone deals", "free shipping", "best price", "unbeatable offer"]],
}


SPAM_FRAMES = {
    "pt": ["Procurando {0}? Aqui você encontra {0} com {1} e {2}.", "O melhor {0} é aqui: {1}, {2}, {3}.",
           "{0} {1} {2} {3}", "Clique e confira {0} {1} {2} agora mesmo!", "{0} é aqui, {0} com {1}, {0} hoje.",
           "Não perca: {0}, {1}, {2}, {3}, {4}.", "Quer {0}? {1}! {2}! {3}!"],
    "en": ["Looking for {0}? Here you will find {0} with {1} and {2}.", "The best {0} is here: {1}, {2}, {3}.",
           "{0} {1} {2} {3}", "Click and check out {0} {1} {2} right now!", "{0} is here, {0} with {1}, {0} today.",
           "Don't miss out: {0}, {1}, {2}, {3}, {4}.", "Want {0}? {1}! {2}! {3}!"],
}


SPAM_PROSE = {
    "pt": ["Nossa equipe está pronta para atender você com toda a atenção que você merece.",
           "Somos uma empresa séria, com milhares de clientes satisfeitos em todo o país.",
           "Não perca tempo e aproveite enquanto as condições especiais ainda estão valendo.",
           "Fale com um dos nossos consultores e tire todas as suas dúvidas sem compromisso.",
           "Aqui você encontra as melhores condições do mercado e um atendimento de verdade.",
           "Todos os dias recebemos mensagens de clientes que mudaram de vida com a nossa ajuda.",
           "O cadastro é rápido, seguro e pode ser feito pelo celular em poucos minutos.",
           "Leia os depoimentos abaixo e veja por que somos a escolha número um da região."],
    "en": ["Our team is ready to help you with all the attention you deserve.",
           "We are a serious company with thousands of happy customers all over the country.",
           "Do not waste time and take advantage while the special conditions are still on.",
           "Talk to one of our advisers and get all your questions answered with no obligation.",
           "Here you will find the best conditions on the market and real customer service.",
           "Every day we hear from customers whose lives changed with our help.",
           "Signing up is quick, safe and can be done on your phone in a few minutes.",
           "Read the reviews below and see why we are the number one choice in the region."],
}


def spam_blocks(lang: str, rng: random.Random) -> tuple[str, list]:
    """SEO keyword stuffing: a handful of phrases over and over, in the page's language."""
    keys = rng.choice(SPAM_KEYS[lang])
    title = " | ".join(rng.sample(keys, 3)).title() + f" {rng.randint(2019, 2025)}"
    lines = []
    for _ in range(rng.randint(14, 24)):
        k = rng.sample(keys, 5)
        lines.append(rng.choice(SPAM_FRAMES[lang]).format(*k))
    lines += [lines[0]] * rng.randint(5, 9)
    lines += rng.sample(SPAM_PROSE[lang], 5)  # some real prose, as SEO pages have
    rng.shuffle(lines)
    return title, [("h1", title)] + [("p", x) for x in lines]


LOWQ_TAGS = {
    "pt": ["receita de bolo de cenoura com cobertura de chocolate", "como fazer pão caseiro sem sovar",
           "torta de frango de liquidificador fácil e rápida", "sobremesa gelada com leite condensado",
           "pudim de leite sem furinhos na panela de pressão", "lanche da tarde para as crianças levarem na escola",
           "suco natural de laranja com cenoura e beterraba", "salada verde com molho de mostarda e mel",
           "arroz doce cremoso da vovó com canela", "brigadeiro gourmet para vender e ganhar dinheiro",
           "jantar rápido com o que tem na geladeira", "receita fit de panqueca de banana com aveia",
           "bolo de fubá com goiabada da fazenda", "feijoada completa para o almoço de domingo",
           "como fazer doce de leite em casa", "cardápio da semana para economizar no mercado"],
    "en": ["easy carrot cake recipe with cream cheese frosting", "how to make homemade bread without kneading",
           "quick chicken pie for a weeknight dinner", "cold dessert with condensed milk and lemon",
           "bread pudding with raisins and a little cinnamon", "afternoon snacks for kids to take to school",
           "fresh orange juice with carrot and beetroot", "green salad with honey mustard dressing",
           "creamy rice pudding like grandma used to make", "chocolate fudge to sell at the school fair",
           "quick dinner with whatever is left in the fridge", "healthy banana pancakes with oats and honey",
           "cornbread with jam for a country breakfast", "slow cooker stew for a cold sunday lunch",
           "how to make caramel sauce at home", "weekly meal plan to save money at the supermarket"],
}
LOWQ_REPEAT = {"pt": ["Clique aqui para baixar o arquivo completo em alta velocidade, sem cadastro e sem complicação.",
                      "Esta página está em manutenção e deve voltar ao ar nas próximas horas, obrigado pela paciência.",
                      "Confira as nossas ofertas da semana com descontos especiais para quem comprar hoje.",
                      "O link foi atualizado e agora o download funciona normalmente para todos os usuários."],
               "en": ["Click here to download the complete file at high speed, with no sign-up and no hassle.",
                      "This page is under maintenance and should be back online in the next few hours, thanks for your patience.",
                      "Check out our deals of the week with special discounts for anyone who buys today.",
                      "The link has been updated and the download now works normally for all users."]}
LOWQ_SHORT = {"pt": ["Esta página ainda está em construção. Em breve vamos publicar aqui os horários de funcionamento da loja, "
                     "as formas de pagamento e os contatos da equipe. Obrigado pela visita e volte logo.",
                     "Nenhum resultado foi encontrado para a sua busca. Tente usar outras palavras ou verifique se o "
                     "termo foi digitado corretamente antes de tentar de novo."],
              "en": ["This page is still under construction. Soon we will publish the shop's opening hours, the "
                     "payment options and the team's contact details here. Thanks for visiting and come back soon.",
                     "No results were found for your search. Try using other words or check that the term was "
                     "typed correctly before trying again."]}


def lowq_blocks(lang: str, rng: random.Random) -> tuple[str, list, str]:
    """(title, blocks, subkind): a keyword dump without punctuation, one sentence repeated, or a
    page of a few dozen words (Gopher's minimum is 50)."""
    sub = rng.choice(["keywords", "repeated", "short"])
    if sub == "keywords":
        tags = LOWQ_TAGS[lang][:]
        rng.shuffle(tags)
        title = tags[0].capitalize()
        lines = [rng.choice(tags) if rng.random() < 0.3 else tags[i % len(tags)] for i in range(rng.randint(25, 40))]
        return title, [("h1", title)] + [("p", x) for x in lines], sub
    if sub == "repeated":
        line = rng.choice(LOWQ_REPEAT[lang])
        title = line.split(",")[0]
        return title, [("h1", title)] + [("p", line)] * rng.randint(12, 25), sub
    text = rng.choice(LOWQ_SHORT[lang])
    title = text.split(".")[0]
    return title, [("h1", title), ("p", text)], sub


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


PII_ITEMS = {"pt": ["uma bicicleta aro 29", "um sofá de três lugares", "uma geladeira duplex", "um notebook de 15 polegadas",
                    "um carrinho de bebê", "uma mesa de jantar com seis cadeiras", "um violão com capa", "uma esteira elétrica",
                    "um fogão de quatro bocas", "uma máquina de lavar de 11 quilos", "um guarda-roupa de casal", "uma TV de 50 polegadas"],
             "en": ["a mountain bike", "a three-seat sofa", "a fridge freezer", "a 15-inch laptop", "a baby pram",
                    "a dining table with six chairs", "an acoustic guitar with case", "a running machine",
                    "a four-burner cooker", "a washing machine", "a double wardrobe", "a 50-inch TV"]}
PII_AD = {
    "pt": ["Vendo {item} em ótimo estado, com pouco uso.", "Está tudo funcionando perfeitamente e sem nenhum arranhão.",
           "Acompanha nota fiscal, manual e a caixa original.", "Aceito proposta razoável, mas não faço troca.",
           "Posso entregar na região central sem custo adicional.", "O motivo da venda é mudança de cidade.",
           "Comprei há dois anos e usei muito pouco desde então.", "Retirada no local, de preferência no fim de semana.",
           "Aceito pagamento à vista ou por transferência bancária.", "Quem chegar primeiro leva, não reservo.",
           "Tenho fotos de todos os ângulos para quem quiser ver antes.", "O preço está abaixo do valor de mercado porque preciso vender logo.",
           "Interessados podem mandar mensagem a qualquer hora, respondo assim que puder.",
           "Também tenho outros móveis à venda, é só perguntar."],
    "en": ["Selling {item} in great condition, barely used.", "Everything works perfectly and there is not a scratch on it.",
           "Comes with the receipt, the manual and the original box.", "Reasonable offers considered, but no swaps.",
           "I can deliver in the town centre at no extra cost.", "I am selling because I am moving to another city.",
           "I bought it two years ago and have hardly used it since.", "Collection only, ideally at the weekend.",
           "Cash or bank transfer accepted.", "First come, first served, I do not hold items.",
           "I have photos from every angle for anyone who wants to see them first.",
           "The price is below market value because I need a quick sale.",
           "Anyone interested can message me at any time and I will reply as soon as I can.",
           "I also have other furniture for sale, just ask."],
}
PII_PROBLEMS = {
    "pt": ["não consigo acessar o sistema interno da empresa", "o e-mail corporativo parou de sincronizar no celular",
           "a impressora da sala não aparece mais na rede", "a VPN desconecta a cada poucos minutos",
           "o site do banco diz que o meu acesso foi bloqueado", "o roteador novo não deixa o computador entrar na internet"],
    "en": ["I cannot reach our internal company system", "my work e-mail stopped syncing on my phone",
           "the office printer no longer shows up on the network", "the VPN drops every few minutes",
           "the bank's website says my access has been blocked", "the new router will not let my computer onto the internet"],
}
PII_TRIED = {
    "pt": ["Já reiniciei o roteador e o computador, mas nada mudou.", "Limpei o cache do navegador e tentei em outro aparelho.",
           "Atualizei o sistema operacional ontem à noite, então pode ter relação.", "O técnico da empresa está de férias e ninguém sabe resolver.",
           "Testei com cabo e sem cabo, e o problema continua igual.", "Li vários tópicos aqui no fórum, mas nenhum resolveu."],
    "en": ["I have restarted the router and the computer, but nothing changed.", "I cleared the browser cache and tried on another device.",
           "I updated the operating system last night, so it might be related.", "Our IT person is on holiday and nobody else knows what to do.",
           "I tried with and without a cable and the problem is the same.", "I have read several threads on this forum, but none of them helped."],
}
PII_HELP = {
    "pt": ["Parece bloqueio no firewall.", "Isso costuma ser o certificado vencido.", "Deve ser conflito de endereço na rede.",
           "Já vi isso acontecer depois de atualização.", "Pode ser o antivírus barrando a conexão."],
    "en": ["It looks like a firewall block.", "That is usually an expired certificate.", "It may be an address conflict on the network.",
           "I have seen this happen after an update.", "It could be the antivirus blocking the connection."],
}


def pii_blocks(lang: str, rng: random.Random, first: str, last: str) -> tuple[str, list, list[dict], list[str]]:
    """A classified ad or a help-desk thread stuffed with PII and decoys: (title, blocks, pii, decoys)."""
    pii, decoys = [], []
    mail, tel, addr = email(rng, first, last), phone(rng, lang), ip(rng)
    pii += [{"type": "email", "value": mail}, {"type": "phone", "value": tel}]
    version = f"{rng.randint(2, 14)}.{rng.randint(0, 20)}.{rng.randint(1, 300)}"
    date = f"{rng.randint(10, 28)}/{rng.randint(10, 12)}/{rng.randint(2015, 2024)}"
    decoys += [version, date]
    pt = lang == "pt"
    if rng.random() < 0.5:
        item = rng.choice(PII_ITEMS[lang])
        title = ("Vendo {i}" if pt else "For sale: {i}").format(i=item)
        ad = PII_AD[lang][:1] + rng.sample(PII_AD[lang][1:], rng.randint(5, 8))
        ad = [x.format(item=item) for x in ad]
        if pt:
            doc, bad = cpf(rng), cpf(rng, valid=False)
            pii.append({"type": "cpf", "value": doc})
            decoys.append(bad)
            contact = rng.choice([
                f"Meu nome é {first} {last}, CPF {doc}, e o anúncio está no ar desde {date}.",
                f"Anúncio publicado em {date} por {first} {last} (CPF {doc}) e verificado pelo site."])
            contact += " " + rng.choice([f"Contato pelo e-mail {mail} ou pelo telefone {tel}.",
                                         f"Fale comigo pelo {tel} ou escreva para {mail}."])
            contact += f" O número do protocolo do anúncio é {bad}. O aplicativo do site está na versão {version}."
        else:
            cc = card(rng)
            pii.append({"type": "card", "value": cc})
            contact = rng.choice([f"My name is {first} {last} and the ad has been up since {date}.",
                                  f"Ad posted on {date} by {first} {last} and checked by the site."])
            contact += " " + rng.choice([f"Contact me by e-mail at {mail} or call {tel}.",
                                         f"Call me on {tel} or write to {mail}."])
            contact += f" I paid the listing fee with card {cc}. The site's app is on version {version}."
        k = rng.randint(2, 4)
        blocks = [("h1", title), ("p", " ".join(ad[:k])), ("p", contact), ("p", " ".join(ad[k:]))]
    else:
        problem = rng.choice(PII_PROBLEMS[lang])
        title = problem[0].upper() + problem[1:]
        tried = rng.sample(PII_TRIED[lang], 3)
        if pt:
            company = cnpj(rng)
            pii.append({"type": "cnpj", "value": company})
            q = (f"Olá, pessoal. Desde {date} {problem}. O meu IP é {addr} e o programa está na versão {version}. "
                 + " ".join(tried) + f" A empresa é a mesma de sempre, CNPJ {company}.")
            a = (f"Oi, {first}. {rng.choice(PII_HELP[lang])} Manda um e-mail para o suporte com o seu IP e o print do erro, "
                 f"ou me escreve em {mail} que eu te ajudo. Se preferir, liga no {tel} depois das seis da tarde.")
        else:
            q = (f"Hi all. Since {date}, {problem}. My IP address is {addr} and the client is on version {version}. "
                 + " ".join(tried))
            a = (f"Hi {first}. {rng.choice(PII_HELP[lang])} Send support an e-mail with your IP and a screenshot of "
                 f"the error, or write to me at {mail} and I will help. You can also call {tel} after six in the evening.")
        pii.append({"type": "ip", "value": addr})
        thanks = rng.choice({"pt": ["Valeu, vou tentar isso hoje mesmo e depois conto aqui se deu certo.",
                                    "Obrigado pela ajuda de todos, era exatamente isso. Resolvido!",
                                    "Funcionou depois que troquei a configuração que você falou. Muito obrigado."],
                             "en": ["Thanks, I will try that today and report back here if it works.",
                                    "Thank you all for the help, that was exactly it. Solved!",
                                    "It worked after I changed the setting you mentioned. Many thanks."]}[lang])
        blocks = [("h1", title), ("post", "user" + str(rng.randint(100, 999)), date, [q]),
                  ("post", "helper" + str(rng.randint(10, 99)), date, [a]), ("post", "user", date, [thanks])]
    return title, blocks, pii, decoys


PII_NOTE = {
    "news": {"pt": ["Serviço: mais informações pelo telefone {tel} ou pelo e-mail {mail}, de segunda a sexta.",
                    "Quem quiser participar pode se inscrever até {date} pelo e-mail {mail} ou pelo telefone {tel}."],
             "en": ["Details: call {tel} or e-mail {mail}, Monday to Friday.",
                    "Anyone who wants to take part can sign up until {date} by e-mail at {mail} or by phone on {tel}."]},
    "forum": {"pt": ["Se alguém tiver mais documentos sobre isso, me escreve em {mail} ou manda mensagem no {tel}. Respondo até {date}.",
                     "Tenho umas fotos antigas sobre o assunto. Quem quiser, é só pedir pelo {mail} ou ligar no {tel}."],
              "en": ["If anyone has more documents on this, write to me at {mail} or text {tel}. I will reply by {date}.",
                     "I have some old photos on the subject. Anyone who wants them can ask at {mail} or call {tel}."]},
}


def pii_note(kind: str, lang: str, rng: random.Random, first: str, last: str) -> tuple[str, list[dict], list[str]]:
    """A contact line for a news item or a forum post: (sentence, pii, decoys)."""
    mail, tel = email(rng, first, last), phone(rng, lang)
    date = f"{rng.randint(10, 28)}/{rng.randint(10, 12)}/{rng.randint(2015, 2024)}"
    text = rng.choice(PII_NOTE[kind][lang]).format(mail=mail, tel=tel, date=date)
    decoys = [date] if date in text else []
    return text, [{"type": "email", "value": mail}, {"type": "phone", "value": tel}], decoys

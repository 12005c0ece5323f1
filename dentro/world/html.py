"""Websites and their chrome: the header, menus, breadcrumbs, cookie banners, sidebars, share
buttons and footers that surround a page's main text on the real web.

The chrome is what makes extraction a real task: naive tag stripping keeps the menu, the
cookie notice, the "most read" list and the footer; a main-content extractor must drop them and
keep exactly `main_text`. Half the sites use HTML5 semantic tags (<header>, <nav>, <main>,
<article>, <aside>, <footer>), the other half only <div>s with class names, as older CMSs do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from html import escape

CHROME = {
    "pt": {
        "nav": ["Início", "Notícias", "Política", "Economia", "Esportes", "Cultura", "Tecnologia", "Saúde",
                "Opinião", "Vídeos", "Podcasts", "Fale conosco", "Assine", "Entrar", "Categorias", "Arquivo"],
        "cookie": ["Usamos cookies para melhorar sua experiência. Ao continuar navegando, você concorda com a nossa Política de Privacidade.",
                   "Este site utiliza cookies próprios e de terceiros para fins estatísticos e publicitários.",
                   "Nós e nossos parceiros armazenamos informações no seu dispositivo. Gerencie suas preferências a qualquer momento."],
        "accept": ["Aceitar", "Aceitar todos", "Entendi", "OK, concordo"],
        "related": ["Leia também", "Mais lidas", "Veja também", "Relacionados", "Populares da semana"],
        "newsletter": ["Receba as novidades no seu e-mail", "Assine nossa newsletter gratuita",
                       "Cadastre-se e não perca nenhuma publicação"],
        "share": "Compartilhar:",
        "footer": ["Todos os direitos reservados.", "Sobre nós", "Política de privacidade", "Termos de uso",
                   "Anuncie", "Trabalhe conosco", "Mapa do site", "Expediente"],
        "ad": ["Publicidade", "Anúncio", "Conteúdo patrocinado"],
        "comments": ["Deixe seu comentário", "Comentários (0)", "Faça login para comentar"],
        "search": "Buscar",
        "home": "Início",
    },
    "en": {
        "nav": ["Home", "News", "Politics", "Business", "Sport", "Culture", "Technology", "Health", "Opinion",
                "Video", "Podcasts", "Contact", "Subscribe", "Sign in", "Categories", "Archive"],
        "cookie": ["We use cookies to improve your experience. By continuing to browse you agree to our Privacy Policy.",
                   "This website uses its own and third-party cookies for analytics and advertising.",
                   "We and our partners store information on your device. Manage your preferences at any time."],
        "accept": ["Accept", "Accept all", "Got it", "OK, I agree"],
        "related": ["Read next", "Most read", "See also", "Related", "Popular this week"],
        "newsletter": ["Get the latest in your inbox", "Sign up for our free newsletter",
                       "Subscribe and never miss a story"],
        "share": "Share:",
        "footer": ["All rights reserved.", "About us", "Privacy policy", "Terms of use", "Advertise",
                   "Careers", "Sitemap", "Masthead"],
        "ad": ["Advertisement", "Sponsored", "Promoted content"],
        "comments": ["Leave a comment", "Comments (0)", "Log in to comment"],
        "search": "Search",
        "home": "Home",
    },
}
# Spanish, French and German sites get their own chrome (a few words each, enough that the menu
# of a foreign page is not in English).
for _lang, _w in {
    "es": (["Inicio", "Noticias", "Cultura", "Deportes", "Recetas", "Viajes", "Contacto", "Archivo"],
           "Usamos cookies para mejorar tu experiencia. Al seguir navegando aceptas nuestra política de privacidad.",
           ["Aceptar"], ["Lo más leído", "Relacionados"], ["Suscríbete a nuestro boletín"], "Compartir:",
           ["Todos los derechos reservados.", "Sobre nosotros", "Privacidad", "Aviso legal", "Publicidad", "Mapa del sitio"],
           ["Publicidad"], ["Deja tu comentario"], "Buscar", "Inicio"),
    "fr": (["Accueil", "Actualités", "Culture", "Sport", "Recettes", "Voyages", "Contact", "Archives"],
           "Nous utilisons des cookies pour améliorer votre expérience. En poursuivant la navigation, vous acceptez notre politique de confidentialité.",
           ["Accepter"], ["Les plus lus", "À lire aussi"], ["Abonnez-vous à notre lettre"], "Partager :",
           ["Tous droits réservés.", "À propos", "Confidentialité", "Mentions légales", "Publicité", "Plan du site"],
           ["Publicité"], ["Laisser un commentaire"], "Rechercher", "Accueil"),
    "de": (["Startseite", "Nachrichten", "Kultur", "Sport", "Rezepte", "Reisen", "Kontakt", "Archiv"],
           "Wir verwenden Cookies, um Ihr Erlebnis zu verbessern. Mit der weiteren Nutzung stimmen Sie unserer Datenschutzerklärung zu.",
           ["Akzeptieren"], ["Meistgelesen", "Auch interessant"], ["Newsletter abonnieren"], "Teilen:",
           ["Alle Rechte vorbehalten.", "Über uns", "Datenschutz", "Impressum", "Werbung", "Sitemap"],
           ["Anzeige"], ["Kommentar schreiben"], "Suchen", "Startseite"),
}.items():
    CHROME[_lang] = dict(zip(["nav", "cookie", "accept", "related", "newsletter", "share", "footer", "ad",
                              "comments", "search", "home"], _w))
    CHROME[_lang]["cookie"] = [CHROME[_lang]["cookie"]]

TAGLINES = {"pt": ["Informação com credibilidade", "O seu portal de conhecimento", "Desde o primeiro clique",
                   "Conteúdo livre para todos", "A comunidade que pergunta e responde"],
            "en": ["Trusted information", "Your gateway to knowledge", "Since the very first click",
                   "Free content for everyone", "The community that asks and answers"],
            "es": ["Información de confianza", "Tu portal de noticias"],
            "fr": ["L'information de confiance", "Votre portail d'actualités"],
            "de": ["Verlässliche Informationen", "Ihr Nachrichtenportal"]}
SCRIPTS = ['window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}gtag("js",new Date());',
           'var _paq=window._paq||[];_paq.push(["trackPageView"]);_paq.push(["enableLinkTracking"]);',
           'document.addEventListener("DOMContentLoaded",function(){var b=document.getElementById("cc");if(b)b.style.display="block";});']


@dataclass
class Site:
    domain: str
    lang: str
    kind: str
    name: str
    semantic: bool = True
    footer_email: bool = False
    nav: list[str] = field(default_factory=list)
    tagline: str = ""
    cookie: str = ""
    pages: int = 0  # pages placed on it so far (for unique paths)


def make_site(domain: str, lang: str, kind: str, rng: random.Random) -> Site:
    c = CHROME[lang]
    base = domain.split(".")[0].replace("-", " ")
    return Site(domain, lang, kind, base.title(), semantic=rng.random() < 0.5,
                footer_email=rng.random() < 0.4, nav=rng.sample(c["nav"], min(len(c["nav"]), rng.randint(6, 10))),
                tagline=rng.choice(TAGLINES[lang]), cookie=rng.choice(c["cookie"]) if rng.random() < 0.8 else "")


def _e(s: str) -> str:
    return escape(s, quote=False)


def render_blocks(blocks: list) -> str:
    out = []
    for b in blocks:
        t = b[0]
        if t in ("h1", "h2", "p"):
            out.append(f"<{t}>{_e(b[1])}</{t}>")
        elif t in ("ul", "ol"):
            out.append(f"<{t}>" + "".join(f"<li>{_e(x)}</li>" for x in b[1]) + f"</{t}>")
        elif t == "table":
            head = "".join(f"<th>{_e(x)}</th>" for x in b[1])
            rows = "".join("<tr>" + "".join(f"<td>{_e(x)}</td>" for x in r) + "</tr>" for r in b[2])
            out.append(f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>')
        elif t == "post":
            paras = "".join(f"<p>{_e(x)}</p>" for x in b[3])
            out.append(f'<div class="post"><div class="post-meta"><span class="user">{_e(b[1])}</span> '
                       f'<span class="date">{_e(b[2])}</span></div><div class="post-body">{paras}</div></div>')
        elif t == "pre":  # preformatted junk (keyword dumps)
            out.append(f"<pre>{_e(b[1])}</pre>")
    return "\n".join(out)


def _links(items: list[str], cls: str) -> str:
    def slug(x):
        return "/" + "-".join(x.lower().split())[:40]
    return f'<ul class="{cls}">' + "".join(f'<li><a href="{escape(slug(x))}">{_e(x)}</a></li>' for x in items) + "</ul>"


def render_page(site: Site, title: str, blocks: list, rng: random.Random, *, date: str = "",
                related: list[str] | None = None, lang: str | None = None, chrome: bool = True,
                extras: bool = True, canonical: str | None = None, article: str | None = None) -> bytes:
    """A full HTML document: the site's chrome around the rendered blocks."""
    lang = lang or site.lang
    c = CHROME[lang if lang in CHROME else "en"]
    main = render_blocks(blocks)
    head = (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)} | {_e(site.name)}</title>\n"
            f'<meta name="description" content="{escape(title)}">\n'
            f'<link rel="stylesheet" href="/static/css/main.{rng.randrange(16**6):06x}.css">\n'
            + (f'<link rel="canonical" href="{escape(canonical)}">\n' if canonical else "")
            + f'<meta property="og:title" content="{escape(title)}">\n'
            + (f'<meta property="og:site_name" content="{escape(site.name)}">\n' if chrome else "")
            + (_json_ld(article, title, date, site.name) if article and date else "")
            + f"<script>{rng.choice(SCRIPTS)}</script>\n</head>\n")
    if not chrome:
        return (head + f"<body>\n{main}\n</body>\n</html>\n").encode("utf-8")
    nav = _links(site.nav, "menu")
    section = rng.choice(site.nav)
    crumbs = f'<a href="/">{_e(c["home"])}</a> › <a href="/{escape(section.lower())}">{_e(section)}</a>'
    cookie = (f'<div id="cc" class="cookie-banner"><p>{_e(site.cookie)}</p><button>{_e(rng.choice(c["accept"]))}</button></div>'
              if site.cookie else "")
    rel = related or []
    aside = (f'<h3>{_e(rng.choice(c["related"]))}</h3>{_links(rel, "related")}' if rel else "")
    aside += f'<div class="ad"><span>{_e(rng.choice(c["ad"]))}</span></div>'
    aside += (f'<div class="newsletter"><h4>{_e(rng.choice(c["newsletter"]))}</h4>'
              f'<form><input type="email" placeholder="e-mail"><button>OK</button></form></div>')
    share = (f'<div class="share">{_e(c["share"])} <a href="#">Facebook</a> <a href="#">X</a> '
             f'<a href="#">WhatsApp</a> <a href="#">LinkedIn</a></div>')
    comments = f'<div class="comments"><h3>{_e(rng.choice(c["comments"]))}</h3></div>'
    if not extras:  # a login wall or an app shell: no share buttons, comments, tagline or breadcrumb
        share = comments = crumbs = ""
        site = Site(site.domain, site.lang, site.kind, site.name, site.semantic, site.footer_email, site.nav, "", site.cookie)
    foot_links = _links(rng.sample(c["footer"][1:], 5), "footer-links")
    contact = f'<p class="contact">contato@{site.domain}</p>' if site.footer_email else ""
    year = date[:4] if date else "2024"
    copyright_ = f"<p>© {year} {_e(site.name)}. {_e(c['footer'][0])}</p>"
    dateline = f'<time datetime="{date}">{date}</time>' if date else ""
    search = f'<form class="search"><input type="search" placeholder="{_e(c["search"])}"></form>'
    if site.semantic:
        body = (f'<body>\n{cookie}\n<header class="site-header"><a class="logo" href="/">{_e(site.name)}</a>'
                f'<p class="tagline">{_e(site.tagline)}</p>{search}</header>\n<nav>{nav}</nav>\n'
                f'<div class="breadcrumb">{crumbs}</div>\n<main>\n<article>\n{dateline}\n{main}\n</article>\n'
                f'{share}\n{comments}\n</main>\n<aside>{aside}</aside>\n'
                f"<footer>{foot_links}{contact}{copyright_}</footer>\n"
                f'<script src="/static/js/app.{rng.randrange(16**6):06x}.js"></script>\n</body>\n</html>\n')
    else:
        body = (f'<body>\n<div id="wrapper">\n<div class="top-bar">{search}</div>\n'
                f'<div class="hdr"><a class="logo" href="/">{_e(site.name)}</a><span class="tagline">{_e(site.tagline)}</span></div>\n'
                f'<div id="menu">{nav}</div>\n<div class="crumbs">{crumbs}</div>\n<div class="cols">\n'
                f'<div class="content-wrapper"><div class="post-date">{_e(date)}</div><div class="entry-content">\n{main}\n</div>'
                f'{share}{comments}</div>\n<div class="sidebar">{aside}</div>\n</div>\n'
                f'<div class="ftr">{foot_links}{contact}{copyright_}</div>\n{cookie}\n</div>\n'
                f'<script src="/static/js/app.{rng.randrange(16**6):06x}.js"></script>\n</body>\n</html>\n')
    return (head + body).encode("utf-8")


def boilerplate_only(site: Site, rng: random.Random, date: str) -> tuple[str, bytes]:
    """A page that is all chrome: a login wall, an empty tag archive, a soft 404."""
    lang = site.lang
    title = rng.choice({"pt": ["Entrar", "Arquivo de tags", "Página não encontrada", "Carregando..."],
                        "en": ["Sign in", "Tag archive", "Page not found", "Loading..."]}[lang])
    blocks = []  # nothing in the main area but a form
    html = render_page(site, title, blocks, rng, date="", related=[], extras=False)
    # Put a login form in the main area: inputs and buttons, no prose.
    form = ('<form class="login"><label>E-mail</label><input type="email"><label>Senha</label>'
            '<input type="password"><button>Entrar</button></form>') if lang == "pt" else (
            '<form class="login"><label>E-mail</label><input type="email"><label>Password</label>'
            '<input type="password"><button>Sign in</button></form>')
    html = html.replace(b"<article>\n", b"<article>\n" + form.encode(), 1).replace(
        b'<div class="entry-content">\n', b'<div class="entry-content">\n' + form.encode(), 1)
    return title, html


def legacy_encoding(body: bytes, charset: str) -> bytes:
    """Re-encode a UTF-8 page as an older CMS would serve it (windows-1252 / iso-8859-1), with
    the <meta charset> to match; characters the charset lacks become numeric references."""
    html = body.decode("utf-8").replace('<meta charset="utf-8">', f'<meta charset="{charset}">', 1)
    return html.encode(charset, errors="xmlcharrefreplace")


def _json_ld(kind: str, title: str, date: str, publisher: str) -> str:
    """schema.org metadata as news sites embed it (extractors may read it; it is not main text)."""
    import json

    data = {"@context": "https://schema.org", "@type": kind, "headline": title,
            "datePublished": date, "publisher": {"@type": "Organization", "name": publisher}}
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>\n'

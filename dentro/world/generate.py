"""Stage 0 orchestration: world -> slots -> pages -> crawl order -> WARC shards and truth files.

    build_world(cfg)              entities and facts (entities.py)
    plan_slots                    which facts each page about an entity states (frequency control)
    entity/math/junk pages        page bodies (content.py, mathpages.py, junk.py)
    duplicates                    exact mirrors and near-duplicates of content pages
    crawl order                   shuffle, split into shards; the first copy of a dup group keeps
                                  its label, later copies expect "dedup"
    write                         crawl/*.warc.gz, blocklist/, truth/*.jsonl

Everything is drawn from random.Random instances seeded by strings derived from cfg.seed, and
every iteration is over lists in a fixed order, so one seed gives byte-identical output.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import re
import time
import unicodedata
from collections import Counter
from pathlib import Path

from dentro.runs import atomic_write_bytes, atomic_write_text
from dentro.world import checks
from dentro.world import content as C
from dentro.world import junk as J
from dentro.world import prose
from dentro.world.config import WorldConfig
from dentro.world.entities import City, Person, World, build_world
from dentro.world.html import Site, boilerplate_only, legacy_encoding, make_site, render_page
from dentro.world.mathpages import homework_page
from dentro.world.phrasing import is_directional
from dentro.world.questions import write_questions
from dentro.world.warc import WarcWriter

SITES = {
    "pt": {"encyclopedia": ["wikimundo.com.br", "enciclopedialivre.org.br", "saberpedia.pt"],
           "news": ["jornaldovale.com.br", "diariodoribeirao.com.br", "noticiasdeagora.pt", "folhadolitoral.com.br"],
           "forum": ["forumcurioso.com.br", "clubedasperguntas.com.br", "conversafiada.pt"],
           "profile": ["blogdamemoria.com.br", "cadernodenotas.blog.br", "paginas-pessoais.net"],
           "list": ["listasetabelas.com.br", "guiadasregioes.com.br"],
           "math": ["exerciciosresolvidos.com.br", "matematicafacil.com.br", "escolakids.pt"],
           "classifieds": ["classificadosdobairro.com.br", "ajudatecnica.com.br"],
           "junk": ["ofertas-imperdiveis.com.br", "receitasdodia.net", "baixaki-arquivos.net", "meusite.com.br"]},
    "en": {"encyclopedia": ["openencyclo.org", "knowpedia.net", "worldbook-online.com"],
           "news": ["dailyherald-news.com", "thecountygazette.co.uk", "riverside-times.com", "morningpost.com.au"],
           "forum": ["askthecrowd.net", "trivia-forums.com", "thebackporch.org"],
           "profile": ["notesandprofiles.blog", "peoplewatch.net", "freepages-host.com"],
           "list": ["listsandtables.org", "townguide.co.uk"],
           "math": ["mathhomeworkhelp.com", "step-by-step-math.org", "kidsarithmetic.co.uk"],
           "classifieds": ["localads-board.com", "techhelp-forum.net"],
           "junk": ["best-deals-now.com", "recipes-daily.net", "download-files.net", "mysite.com"]},
    "es": {"foreign": ["noticiasdelbarrio.es", "recetasfaciles.com.mx", "diariodeviaje.es"]},
    "fr": {"foreign": ["nouvellesduquartier.fr", "recettesfaciles.fr", "carnetdevoyage.be"]},
    "de": {"foreign": ["nachrichten-viertel.de", "einfache-rezepte.de", "reisetagebuch.at"]},
}
HOSTING = {"pt": "paginas-pessoais.net", "en": "freepages-host.com"}  # also hosts blocklisted URLs
MIRRORS = ["wikimundo-espelho.net", "copypages.info", "mirror-archive.org", "textcache.net", "reposter.biz"]


def slug(text: str) -> str:
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")[:60] or "page"


class Generator:
    def __init__(self, cfg: WorldConfig):
        self.cfg = cfg
        self.w: World = build_world(cfg)
        self.rng = random.Random(f"world-pages-{cfg.seed}")
        self.sites: dict[str, Site] = {}
        for lang, kinds in SITES.items():
            for kind, domains in kinds.items():
                for d in domains:
                    self.sites[d] = make_site(d, lang, kind, self.rng)
        for d in MIRRORS:
            self.sites[d] = make_site(d, "en", "mirror", self.rng)
        self.pages: list[C.Page] = []
        self.tasks: list[dict] = []
        self.urls: set[str] = set()
        self.adult_domains: list[str] = []
        self.adult_urls: list[str] = []
        self.phishing_domains: list[str] = []
        self.self_check_misses = 0

    # -- helpers --------------------------------------------------------------------------------
    def site_for(self, lang: str, kind: str) -> Site:
        return self.sites[self.rng.choice(SITES[lang][kind])]

    def url(self, site: Site, title: str, kind: str) -> str:
        site.pages += 1
        n = site.pages
        s = slug(title)
        path = {"encyclopedia": f"/wiki/{s}", "news": f"/{2015 + n % 10}/{1 + n % 12:02d}/{s}-{n}",
                "forum": f"/t/{s}/{1000 + n}", "profile": f"/blog/{s}-{n}", "list": f"/listas/{s}-{n}",
                "math": f"/exercicios/{s}-{n}", "classifieds": f"/anuncio/{10000 + n}"}.get(kind, f"/{s}-{n}")
        if kind == "encyclopedia" and f"https://{site.domain}{path}" in self.urls:
            path += f"_{n}"
        u = f"https://{site.domain}{path}"
        assert u not in self.urls, u
        self.urls.add(u)
        return u

    def add(self, page: C.Page) -> C.Page:
        self.pages.append(page)
        return page

    # -- entity pages -----------------------------------------------------------------------------
    def plan_slots(self) -> list[C.Slot]:
        """Spread each entity's facts over its pages: a fact with n_pages = k is on k of them.

        A directional fact stated both ways ("A's mother is B", stated == "both") puts half of its
        pages (rounded down) on pages about its object B, where it is written object-first ("B
        has a son, A"): there A is not already in the page, so a model learns B -> A in its
        weights instead of copying A from the context. On A's own pages it is reversed half of the
        time. Forward-only facts stay on their subject's pages, always subject-first."""
        w, rng = self.w, random.Random(f"world-slots-{self.cfg.seed}")
        by_entity: dict[str, list] = {}  # entity -> [(fact, pages of that entity it goes on)]
        for f in w.facts:
            moved = f.n_pages // 2 if is_directional(f) and f.stated == "both" else 0
            by_entity.setdefault(f.subject, []).append((f, f.n_pages - moved))
            if moved:
                by_entity.setdefault(f.object, []).append((f, moved))
        slots = []
        for eid, facts in by_entity.items():
            facts = [(f, k) for f, k in facts if k > 0]
            if not facts:
                continue
            m = max(k for _, k in facts)
            per_page: list[list] = [[] for _ in range(m)]
            for f, k in facts:
                for j in rng.sample(range(m), k):
                    per_page[j].append(f)
            e = w.entity(eid)
            home = getattr(e, "group", None) or w.countries[e.country].group  # a city's language: its country's
            for j, fs in enumerate(per_page):
                lang = home if rng.random() < 0.7 else ("en" if home == "pt" else "pt")
                slots.append(C.Slot(eid, fs, lang))
        return slots

    def entity_pages(self) -> None:
        rng, w = self.rng, self.w
        slots = self.plan_slots()
        pooled: dict[tuple, list] = {}
        for s in slots:
            e = w.entity(s.entity)
            ekind = "person" if isinstance(e, Person) else "city" if isinstance(e, City) else "org"
            single_fact_rare = all(f.bucket == "rare" for f in s.facts)
            if single_fact_rare and rng.random() < 0.6 or rng.random() < 0.08:
                pooled.setdefault((ekind, s.lang), []).append(s)
                continue
            kind = rng.choices(["encyclopedia", "news", "forum", "profile"], [0.3, 0.25, 0.2, 0.25])[0]
            date = self.pub_date()
            make = {"encyclopedia": lambda k: C.encyclopedia(w, s, rng, C.MIN_WORDS + 50 * k),
                    "news": lambda k: C.news(w, s, rng, C.MIN_WORDS + 50 * k),
                    "forum": lambda k: C.forum(w, s, rng, date, C.MIN_WORDS + 50 * k),
                    "profile": lambda k: C.profile(w, s, rng, C.MIN_WORDS + 50 * k)}[kind]
            title, blocks = self.keepable(make, s.lang)
            site = self.site_for(s.lang, kind)
            self.add(C.Page(self.url(site, title, kind), kind, s.lang, title, blocks,
                            [f.id for f in s.facts], site=site)).date = date
        for (ekind, lang), group in pooled.items():
            rng.shuffle(group)
            i = 0
            while i < len(group):
                k = rng.randint(3, 6)
                chunk, seen = [], set()
                for s in group[i:i + k]:  # one entity at most once per page
                    if s.entity in seen:
                        group.append(s)
                        continue
                    seen.add(s.entity)
                    chunk.append(s)
                i += k
                if not chunk:
                    continue
                if rng.random() < (0.7 if ekind == "person" else 0.4):
                    title, blocks = self.keepable(lambda k: C.listing(w, chunk, rng, C.MIN_WORDS + 50 * k), lang)
                    kind = "list"
                else:
                    title, blocks = self.keepable(lambda k: C.table(w, chunk, rng, 80 * k), lang)
                    kind = "table"
                site = self.site_for(lang, "list")
                self.add(C.Page(self.url(site, title, "list"), kind, lang, title, blocks,
                                [f.id for s in chunk for f in s.facts], site=site)).date = self.pub_date()

    def keepable(self, make, lang: str, tries: int = 8):
        """Draw a page until its main text passes the quality rules with a margin (checks.py).
        make(k) builds draw k; later draws may be longer (more fact-free prose dilutes a name that
        dominates the n-gram statistics). After `tries` misses keep the last draw and count it
        (stats: self_check_misses)."""
        for k in range(tries):
            out = make(k)
            if checks.keepable(C.main_text(out[1]), lang):
                return out
        self.self_check_misses += 1
        return out

    def removable(self, make, lang: str, tries: int = 8):
        """Draw a quality-junk page until it clearly fails the quality rules (even 15% looser ones)."""
        for _ in range(tries):
            out = make()
            if checks.failures(C.main_text(out[1]), lang, 1 / checks.MARGIN):
                return out
        self.self_check_misses += 1
        return out

    def pub_date(self) -> str:
        d = dt.date(2015, 1, 1) + dt.timedelta(days=self.rng.randrange(3400))
        return d.isoformat()

    # -- other pages ------------------------------------------------------------------------------
    def math_pages(self, n: int) -> None:
        for i in range(n):
            lang = "pt" if i % 2 == 0 else "en"
            title, blocks, tasks = self.keepable(lambda k: homework_page(lang, self.rng, self.rng.randint(4, 6)), lang)
            site = self.site_for(lang, "math")
            p = self.add(C.Page(self.url(site, title, "math"), "math", lang, title, blocks, site=site))
            p.date = self.pub_date()
            for t in tasks:
                self.tasks.append(dict(id=f"M{len(self.tasks):05d}", url=p.url, **t))

    def junk_pages(self, counts: dict[str, int]) -> None:
        rng = self.rng
        used: set[str] = set()
        for i in range(counts.get("adult", 0)):
            lang = rng.choice(["pt", "en"])
            title, blocks = J.adult_blocks(lang, rng)
            if i % 5 == 4:  # an adult page on a shared host: its URL is blocklisted, not the domain
                site = self.sites[HOSTING[lang]]
                u = f"https://{site.domain}/~{slug(J.adult_domain(rng, used).split('.')[0])}/index.html"
                while u in self.urls:  # big worlds: the same user name on another TLD
                    u = u.replace("/index.html", f"{rng.randrange(10)}/index.html")
                self.urls.add(u)
                self.adult_urls.append(u.split("://", 1)[1])
            else:
                d = J.adult_domain(rng, used)
                site = make_site(d, lang, "adult", rng)
                self.sites[d] = site
                self.adult_domains.append(d)
                u = self.url(site, title, "adult")
            p = self.add(C.Page(u, "adult", lang, title, blocks, expect="url", site=site))
            p.date = self.pub_date()
        for i in range(counts.get("spam", 0)):
            lang = rng.choice(["pt", "en"])
            title, blocks = self.removable(lambda: J.spam_blocks(lang, rng), lang)
            if i % 5 == 4:  # a scam site listed in the blocklist's phishing category: the URL filter's
                d = J.phishing_domain(rng, used)
                site = make_site(d, lang, "junk", rng)
                self.sites[d] = site
                self.phishing_domains.append(d)
                expect = "url"
            else:
                site, expect = self.site_for(lang, "junk"), "quality"
            self.add(C.Page(self.url(site, title, "spam"), "spam", lang, title, blocks, expect=expect,
                            site=site)).date = self.pub_date()
        for _ in range(counts.get("lowq", 0)):
            lang = rng.choice(["pt", "en"])
            title, blocks, sub = self.removable(lambda: J.lowq_blocks(lang, rng), lang)
            site = self.site_for(lang, "junk")
            self.add(C.Page(self.url(site, title, "lowq"), "lowq", lang, title, blocks, expect="quality",
                            site=site)).date = self.pub_date()
        for i in range(counts.get("foreign", 0)):
            lang = ["es", "fr", "de"][i % 3]
            title, blocks = J.foreign_blocks(lang, rng)
            site = self.site_for(lang, "foreign")
            self.add(C.Page(self.url(site, title, "foreign"), "foreign", lang, title, blocks, expect="language",
                            site=site)).date = self.pub_date()
        for _ in range(counts.get("boilerplate", 0)):
            lang = rng.choice(["pt", "en"])
            site = self.site_for(lang, rng.choice(["news", "forum", "profile"]))
            date = self.pub_date()
            title, body = boilerplate_only(site, rng, date)
            p = self.add(C.Page(self.url(site, title + str(rng.randrange(10**6)), "boilerplate"), "boilerplate", lang,
                                title, [], expect="extraction", site=site, body=body, main_override=""))
            p.date = date
        for _ in range(counts.get("binary", 0)):
            lang = rng.choice(["pt", "en"])
            site = self.site_for(lang, rng.choice(["news", "profile"]))
            ctype, body = J.binary_payload(rng)
            ext = ".pdf" if "pdf" in ctype else ".jpg"
            u = self.url(site, "arquivo" if lang == "pt" else "file", "binary") + ext
            self.add(C.Page(u, "binary", lang, "", [], expect="extraction", site=site, body=body,
                            content_type=ctype, main_override="")).date = self.pub_date()
        people = sorted(self.w.people.values(), key=lambda p: p.id)
        # Half the PII goes into ordinary news items and forum threads (a contact line, a reader's
        # e-mail), half into classified ads and help-desk threads of its own.
        hosts = [p for p in self.pages if p.kind in ("news", "forum") and not p.pii]
        for p in rng.sample(hosts, min(len(hosts), counts.get("pii", 0) // 2)):
            first, last = rng.choice(people).name.split()[0], rng.choice(people).name.split()[-1]
            text, pii, decoys = J.pii_note(p.kind, p.lang, rng, first, last)
            if p.kind == "news":
                p.blocks.append(("p", text))
            else:
                p.blocks.insert(-1, ("post", rng.choice(prose.FORUM_USERS), f"{p.date} 23:{rng.randint(10, 59)}", [text]))
            p.pii, p.pii_decoys = pii, decoys
        for _ in range(counts.get("pii", 0) - counts.get("pii", 0) // 2):
            lang = rng.choice(["pt", "en"])
            first, last = rng.choice(people).name.split()[0], rng.choice(people).name.split()[-1]
            title, blocks, pii, decoys = self.keepable(lambda k: J.pii_blocks(lang, rng, first, last), lang)
            site = self.site_for(lang, "classifieds")
            p = self.add(C.Page(self.url(site, title, "classifieds"), "pii", lang, title, blocks, site=site,
                                pii=pii, pii_decoys=decoys))
            p.date = self.pub_date()

    def duplicates(self, n_mirror: int, n_near: int) -> None:
        """Copies of content pages that state no rare fact (rare facts stay on exactly one page)."""
        rng, w = self.rng, self.w
        rare = {f.id for f in w.facts if f.bucket == "rare"}
        pool = [p for p in self.pages if p.kind in ("encyclopedia", "news", "profile", "forum")
                and not rare.intersection(p.facts) and not p.pii]
        if not pool:
            return
        groups = 0
        for kind, n in (("mirror", n_mirror), ("near_duplicate", n_near)):
            for _ in range(n):
                src = rng.choice(pool)
                if src.dup_group is None:
                    groups += 1
                    src.dup_group = f"D{groups:04d}"
                # A mirror copies the text to a mirror domain; a near-duplicate is a lightly edited
                # copy on another site of the same kind (syndication, scrapers).
                blocks = src.blocks if kind == "mirror" else near_dup(src.blocks, src.lang, rng)
                site = self.sites[rng.choice(MIRRORS)] if kind == "mirror" else self.site_for(src.lang, src.kind)
                u = self.url(site, src.title, src.kind)
                copy = C.Page(u, kind, src.lang, src.title, blocks, list(src.facts), dup_group=src.dup_group,
                              site=site, source=src)
                copy.date = src.date
                self.add(copy)

    # -- the whole crawl --------------------------------------------------------------------------
    def build(self) -> None:
        cfg = self.cfg
        shares = dict(cfg.junk_shares)
        self.entity_pages()
        n_content = len(self.pages)
        n_math = max(2, round(cfg.pages * cfg.math_share))
        self.math_pages(n_math)
        counts = {k: max(1, round(cfg.pages * v)) for k, v in shares.items()}
        self.junk_pages(counts)
        self.duplicates(counts["mirror"], counts["near_dup"])
        self.n_content = n_content
        # Crawl order: shuffle, then shards take consecutive runs of pages.
        self.rng.shuffle(self.pages)
        per = -(-len(self.pages) // cfg.shards)
        for i, p in enumerate(self.pages):
            p.shard, p.record = i // per, i % per
        seen_groups: set[str] = set()
        for p in self.pages:  # first copy in crawl order keeps its label, later copies are "dedup"
            if p.dup_group:
                if p.dup_group in seen_groups:
                    p.expect = "dedup"
                seen_groups.add(p.dup_group)


NEAR_DUP_EDITS = {
    "pt": ["Texto atualizado em {d}.", "Esta página foi revisada em {d}.", "Última modificação: {d}.",
           "Publicado originalmente em {d} e atualizado depois."],
    "en": ["Text updated on {d}.", "This page was revised on {d}.", "Last modified: {d}.",
           "Originally published on {d} and updated since."],
}


def near_dup(blocks: list, lang: str, rng: random.Random) -> list:
    """A small edit: one sentence appended to one paragraph (5-gram Jaccard stays above ~0.9)."""
    out = list(blocks)
    ps = [i for i, b in enumerate(out) if b[0] == "p"] or [i for i, b in enumerate(out) if b[0] == "post"]
    i = rng.choice(ps)
    d = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2016, 2024)}"
    extra = rng.choice(NEAR_DUP_EDITS[lang]).format(d=d)
    b = out[i]
    out[i] = ("p", b[1] + " " + extra) if b[0] == "p" else ("post", b[1], b[2], b[3][:-1] + [b[3][-1] + " " + extra])
    return out


# -- writing ------------------------------------------------------------------------------------------
def _crawl_dates(cfg: WorldConfig, n: int) -> list[tuple[str, str]]:
    """(WARC-Date, HTTP Date) per record: a fixed start plus a seed-derived offset, ~9 s apart."""
    start = dt.datetime.fromisoformat(cfg.crawl_start).replace(tzinfo=dt.timezone.utc)
    start += dt.timedelta(hours=cfg.seed % 240)
    out = []
    for i in range(n):
        t = start + dt.timedelta(seconds=9 * i + (i * 7919) % 5)
        out.append((t.strftime("%Y-%m-%dT%H:%M:%SZ"), t.strftime("%a, %d %b %Y %H:%M:%S GMT")))
    return out


def _jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def generate(out: Path, cfg: WorldConfig, log=lambda *a: None) -> dict:
    """Generate the world into folder `out`; returns summary figures (also in out/stats.json)."""
    t0 = time.perf_counter()
    g = Generator(cfg)
    g.build()
    w = g.w
    out = Path(out)
    rng = random.Random(f"world-render-{cfg.seed}")
    # Related-link titles per site for the chrome (titles of other pages on the same site).
    titles_by_site: dict[str, list[str]] = {}
    for p in g.pages:
        if p.title and p.site is not None:
            titles_by_site.setdefault(p.site.domain, []).append(p.title)
    dates = _crawl_dates(cfg, len(g.pages))
    names = [f"dentro-world-{cfg.seed}-{i:05d}.warc.gz" for i in range(cfg.shards)]
    # A world regenerated into the same folder must not leave another size's shards behind.
    for old in list((out / "crawl").glob("*.warc.gz")) + list((out / "truth" / "questions").glob("*.jsonl")):
        old.unlink()
    # Pages are in crawl order, shard by shard: build one shard in memory, write it, go on.
    buf, writer, shard = None, None, -1
    page_rows = []
    for i, p in enumerate(g.pages):
        if p.shard != shard:
            if buf is not None:
                atomic_write_bytes(out / "crawl" / names[shard], buf.getvalue())
            shard, buf = p.shard, io.BytesIO()
            writer = WarcWriter(buf, names[shard], str(cfg.seed), dates[0][0])
        if p.body is None:
            pool = titles_by_site.get(p.site.domain, [])
            related = [t for t in rng.sample(pool, min(6, len(pool))) if t != p.title][:5]
            lang = p.lang if p.lang in ("pt", "en", "es", "fr", "de") else "en"
            # A mirror names its source as canonical (as syndicated copies often do).
            canonical = p.source.url if p.kind == "mirror" and p.source is not None else p.url
            p.body = render_page(p.site, p.title, p.blocks, rng, date=p.date, related=related, lang=lang,
                                 canonical=canonical, article={"news": "NewsArticle", "encyclopedia": "Article",
                                                               "profile": "BlogPosting"}.get(p.kind))
            # Some sites still serve legacy 8-bit encodings (declared in the header and the meta tag).
            if p.lang in ("pt", "es", "fr", "de") and rng.random() < cfg.legacy_charset_share:
                charset = rng.choice(["windows-1252", "iso-8859-1"])
                p.body = legacy_encoding(p.body, charset)
                p.content_type = f"text/html; charset={charset}"
        ip = f"{10 + (hash_domain(p.site.domain) % 200)}.{hash_domain(p.site.domain) // 200 % 250}.0.{1 + i % 250}"
        writer.response(p.url, dates[i][0], dates[i][1], p.body, p.content_type, ip=ip)
        p.body = None  # written; free it
        mt = p.main_override if p.main_override is not None else C.main_text(p.blocks)
        page_rows.append({"url": p.url, "warc_file": names[p.shard], "record": p.record, "kind": p.kind,
                          "lang": p.lang, "charset": _charset(p.content_type),
                          "expect": p.expect, "dup_group": p.dup_group, "facts": p.facts,
                          "pii": p.pii, "pii_decoys": p.pii_decoys, "title": p.title, "main_text": mt})
    atomic_write_bytes(out / "crawl" / names[shard], buf.getvalue())
    # Blocklist, UT1 layout: <category>/domains and <category>/urls, one entry per line, sorted.
    atomic_write_text(out / "blocklist" / "adult" / "domains", "".join(d + "\n" for d in sorted(g.adult_domains)))
    atomic_write_text(out / "blocklist" / "adult" / "urls", "".join(u + "\n" for u in sorted(g.adult_urls)))
    atomic_write_text(out / "blocklist" / "adult" / "usage", "black\n")
    atomic_write_text(out / "blocklist" / "phishing" / "domains", "".join(d + "\n" for d in sorted(g.phishing_domains)))
    atomic_write_text(out / "blocklist" / "phishing" / "urls", "")
    atomic_write_text(out / "blocklist" / "phishing" / "usage", "black\n")
    # Truth.
    stated = Counter(fid for r in page_rows for fid in r["facts"])
    kept = Counter(fid for r in page_rows if r["expect"] == "keep" for fid in r["facts"])
    langs: dict[str, set] = {}
    for r in page_rows:
        for fid in r["facts"]:
            langs.setdefault(fid, set()).add(r["lang"])
    fact_rows = []
    for f in w.facts:
        fact_rows.append({"id": f.id, "subject": f.subject, "subject_name": w.name(f.subject), "relation": f.relation,
                          "object": f.object, "answer": f.answer, "bucket": f.bucket, "stated": f.stated,
                          "pages": stated[f.id], "kept_pages": kept[f.id], "langs": sorted(langs.get(f.id, ()))})
    atomic_write_text(out / "truth" / "facts.jsonl", _jsonl(fact_rows))
    atomic_write_text(out / "truth" / "pages.jsonl", _jsonl(page_rows))
    atomic_write_text(out / "truth" / "math.jsonl", _jsonl(g.tasks))
    atomic_write_text(out / "truth" / "entities.json", json.dumps(entities_json(w), ensure_ascii=False, indent=1) + "\n")
    qcounts = write_questions(out / "truth" / "questions", w, fact_rows, cfg.seed)
    seconds = time.perf_counter() - t0
    stats = summarize(page_rows, fact_rows, out, g, qcounts)
    stats["generation_seconds"] = round(seconds, 3)
    atomic_write_text(out / "stats.json", json.dumps(stats, indent=1, ensure_ascii=False) + "\n")
    log(f"[world] {stats['pages']} pages, {stats['crawl_mb']:.2f} MB of WARC in {seconds:.1f} s -> {out}")
    return stats


def _charset(content_type: str) -> str | None:
    return content_type.split("charset=", 1)[1] if "charset=" in content_type else None


def hash_domain(d: str) -> int:
    """A stable small hash (Python's hash() is salted per process)."""
    h = 0
    for ch in d.encode():
        h = (h * 131 + ch) % 1_000_003
    return h


def entities_json(w: World) -> dict:
    return {
        "countries": [vars(c) for c in w.countries.values()],
        "cities": [vars(c) for c in w.cities.values()],
        "organisations": [vars(o) for o in w.orgs.values()],
        "people": [vars(p) for p in w.people.values()],
    }


def summarize(page_rows, fact_rows, out: Path, g: Generator, qcounts: dict) -> dict:
    crawl_bytes = sum(p.stat().st_size for p in (out / "crawl").glob("*.warc.gz"))
    kept_text = [r["main_text"] for r in page_rows if r["expect"] == "keep"]
    return {
        "pages": len(page_rows),
        "pages_by_kind": dict(sorted(Counter(r["kind"] for r in page_rows).items())),
        "pages_by_lang": dict(sorted(Counter(r["lang"] for r in page_rows).items())),
        "expect": dict(sorted(Counter(r["expect"] for r in page_rows).items())),
        "facts": len(fact_rows),
        "facts_by_bucket": dict(sorted(Counter(f["bucket"] for f in fact_rows).items())),
        "facts_forward_only": sum(1 for f in fact_rows if f["stated"] == "forward_only"),
        "people": len(g.w.people), "cities": len(g.w.cities), "organisations": len(g.w.orgs),
        "math_tasks": len(g.tasks),
        "questions": qcounts,
        "crawl_mb": crawl_bytes / 1e6,
        "kept_text_mb": sum(len(t.encode()) for t in kept_text) / 1e6,
        "kept_words": sum(len(t.split()) for t in kept_text),
        "adult_domains": len(g.adult_domains), "adult_urls": len(g.adult_urls),
        "phishing_domains": len(g.phishing_domains),
        "self_check_misses": g.self_check_misses,
        "pages_with_pii": sum(1 for r in page_rows if r["pii"]),
    }

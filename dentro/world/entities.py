"""The world's entities and facts: cities, organisations, people and families, from a seed.

Invariants (checked by tests/test_world_invariants.py):
  - a city is in exactly one country; a person's birth city is in their country;
  - a child is born 18..45 years after each parent; a founder was born 20..60 years before
    the organisation; an employer was founded before its employee turned 25;
  - every full name is unique (names are matched with word boundaries in tests).

A fact is (subject, relation, object). Its frequency bucket says on how many pages it is
stated: "frequent" (many pages, many paraphrases), "medium" (a few) or "rare" (exactly one).
Directional relations (mother, father, founder) carry `stated`: "forward_only" facts are only
ever written subject-first ("A's mother is B"), never object-first ("B is A's mother"), for the
reversal-curse experiment (Berglund et al. 2023, https://arxiv.org/abs/2309.12288); "both"
facts are written either way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from dentro.world import lexicon as L
from dentro.world.config import WorldConfig

DIRECTIONAL = ("mother", "father", "founder")
PERSON_RELATIONS = ("birth_year", "birth_city", "profession", "employer", "mother", "father")


@dataclass
class Country:
    id: str
    group: str  # "pt" or "en": the language of its names
    name_pt: str
    in_pt: str  # "no Brasil"
    name_en: str


@dataclass
class City:
    id: str
    name: str
    country: str
    population: int
    founded: int
    tier: str = "rare"


@dataclass
class Org:
    id: str
    name: str
    kind: str
    group: str
    founded: int
    hq: str
    founder: str | None = None
    tier: str = "rare"


@dataclass
class Person:
    id: str
    name: str
    gender: str  # "f" or "m"
    group: str
    country: str
    birth_year: int
    birth_city: str
    profession: str
    employer: str | None = None
    mother: str | None = None
    father: str | None = None
    tier: str = "rare"


@dataclass
class Fact:
    id: str
    subject: str
    relation: str
    object: str | int  # an entity id or a literal (year, number, word id)
    bucket: str        # frequent | medium | rare
    n_pages: int       # pages that state it (target; rare = 1)
    stated: str | None = None  # forward_only | both, for DIRECTIONAL relations
    answer: dict = field(default_factory=dict)  # {"pt": str, "en": str}: as written on pages


@dataclass
class World:
    countries: dict[str, Country]
    cities: dict[str, City]
    orgs: dict[str, Org]
    people: dict[str, Person]
    facts: list[Fact]

    def entity(self, eid: str):
        for table in (self.people, self.cities, self.orgs, self.countries):
            if eid in table:
                return table[eid]
        raise KeyError(eid)

    def name(self, eid: str, lang: str = "en") -> str:
        e = self.entity(eid)
        if isinstance(e, Country):
            return e.name_pt if lang == "pt" else e.name_en
        return e.name

    def facts_of(self, eid: str) -> list[Fact]:
        return [f for f in self.facts if f.subject == eid]


def fmt_int(n: int, lang: str) -> str:
    """1234567 -> '1.234.567' (pt) or '1,234,567' (en)."""
    s = f"{n:,}"
    return s.replace(",", ".") if lang == "pt" else s


PROFESSION = {p[0]: p for p in L.PROFESSIONS}
ORG_KIND = {k[0]: k for k in L.ORG_KINDS}


class _Builder:
    def __init__(self, cfg: WorldConfig):
        self.cfg = cfg
        self.rng = random.Random(f"world-entities-{cfg.seed}")
        self.countries = {c[0]: Country(*c) for c in L.COUNTRIES}
        self.cities: dict[str, City] = {}
        self.orgs: dict[str, Org] = {}
        self.people: dict[str, Person] = {}
        self.names: set[str] = set()

    # -- places and organisations --------------------------------------------------------------
    def city_name(self, group: str) -> str:
        r = self.rng
        for _ in range(1000):
            if group == "pt":
                base = r.choice(L.CITY_PT_BASE)
                pre = r.choice(L.CITY_PT_PREFIX)
                if pre in ("São ", "Santa "):  # a saint's name, sometimes "of" a place
                    saint = r.choice(L.FIRST_PT["m" if pre == "São " else "f"])
                    name = pre + saint + (" de " + base if r.random() < 0.5 else "")
                else:
                    name = pre + base + r.choice(L.CITY_PT_SUFFIX)
            else:
                name = r.choice(L.CITY_EN_A) + r.choice(L.CITY_EN_B)
                if r.random() < 0.25:
                    name = r.choice(["Port ", "Mount ", "East ", "Lower ", "New "]) + name
            name = " ".join(name.split())
            if name not in self.names:
                self.names.add(name)
                return name
        raise RuntimeError("ran out of city names; add words to lexicon.py")

    def make_cities(self, n: int) -> None:
        ids = list(self.countries)
        for i in range(n):
            # Every country gets a city first, then the rest at random.
            c = self.countries[ids[i] if i < len(ids) else self.rng.choice(ids)]
            pop = int(10 ** self.rng.uniform(3.7, 6.5))
            pop = round(pop, -2) + self.rng.randrange(10, 99)  # not too round, so it is one answer
            founded = self.rng.randint(1530 if c.group == "pt" else 1620, 1890)
            cid = f"C{i:04d}"
            self.cities[cid] = City(cid, self.city_name(c.group), c.id, pop, founded)

    def cities_in(self, country: str) -> list[str]:
        return [cid for cid, c in self.cities.items() if c.country == country]

    def countries_of(self, group: str) -> list[str]:
        return [k for k, c in self.countries.items() if c.group == group]

    def make_orgs(self, n: int) -> None:
        used = set()
        for i in range(n):
            group = "pt" if i % 2 == 0 else "en"
            kind = self.rng.choice(L.ORG_KINDS)
            for attempt in range(1000):
                brand = self.rng.choice(L.BRANDS_PT if group == "pt" else L.BRANDS_EN)
                if attempt > 50:  # big worlds: a brand may serve several kinds, then take a second word
                    brand += " " + self.rng.choice(L.BRAND_SUFFIX[group])
                name = (kind[1] if group == "pt" else kind[2]).format(b=brand)
                if (brand not in used or attempt > 20) and name not in self.names:
                    break
            else:
                raise RuntimeError("ran out of organisation names; add brands to lexicon.py")
            used.add(brand)
            self.names.add(name)
            country = self.rng.choice(self.countries_of(group))
            hq = self.rng.choice(self.cities_in(country))
            founded = max(self.cities[hq].founded + 20, self.rng.randint(1860, 2012))
            oid = f"O{i:04d}"
            self.orgs[oid] = Org(oid, name, kind[0], group, founded, hq)

    # -- people -----------------------------------------------------------------------------
    def person_name(self, group: str, gender: str, surnames: list[str] | None = None) -> str:
        r = self.rng
        for _ in range(1000):
            first = r.choice((L.FIRST_PT if group == "pt" else L.FIRST_EN)[gender])
            if surnames is None:
                pool = L.SURNAMES_PT if group == "pt" else L.SURNAMES_EN
                sur = r.sample(pool, 2) if group == "pt" else [r.choice(pool)]
            else:
                sur = surnames
            if group == "en" and r.random() < 0.35:  # a middle initial makes English names unique
                first += " " + r.choice("ABCDEFGHJKLMNPRSTW") + "."
            name = " ".join([first] + sur)
            if name not in self.names:
                self.names.add(name)
                return name
            surnames = None  # that family name is taken with this first name: pick fresh ones
        raise RuntimeError("ran out of person names; add names to lexicon.py")

    def employer_for(self, group: str, birth_year: int) -> str | None:
        ok = [oid for oid, o in self.orgs.items() if o.group == group and o.founded <= birth_year + 25
              and o.founder is not None]
        return self.rng.choice(ok) if ok and self.rng.random() < 0.6 else None

    def make_person(self, group: str, gender: str, birth_year: int, tier: str, country: str | None = None,
                    surnames: list[str] | None = None) -> Person:
        country = country or self.rng.choice(self.countries_of(group))
        pid = f"P{len(self.people):05d}"
        p = Person(pid, self.person_name(group, gender, surnames), gender, group, country, birth_year,
                   self.rng.choice(self.cities_in(country)), self.rng.choice(L.PROFESSIONS)[0], tier=tier)
        # a person cannot be born in a city before it was founded: move the founding year back
        city = self.cities[p.birth_city]
        city.founded = min(city.founded, birth_year - self.rng.randint(30, 200))
        self.people[pid] = p
        return p

    def make_founders(self) -> None:
        for o in self.orgs.values():
            country = self.cities[o.hq].country
            f = self.make_person(o.group, self.rng.choice("fm"), o.founded - self.rng.randint(20, 60),
                                 "rare", country=country)
            o.founder = f.id
        for p in list(self.people.values()):
            p.employer = self.employer_for(p.group, p.birth_year)

    def make_family(self, tier: str, parent_chance: float) -> Person:
        r = self.rng
        group = r.choice(["pt", "en"])
        gender = r.choice("fm")
        year = r.randint(1925, 2003)
        country = r.choice(self.countries_of(group))
        if r.random() >= parent_chance:
            child = self.make_person(group, gender, year, tier, country=country)
        else:
            ptier = lambda: "medium" if r.random() < 0.15 else "rare"  # noqa: E731
            mother = self.make_person(group, "f", year - r.randint(18, 45), ptier(), country=country)
            father = self.make_person(group, "m", year - r.randint(20, 45), ptier(), country=country)
            last = lambda p: p.name.split()[-1]  # noqa: E731
            surnames = [last(mother), last(father)] if group == "pt" else [last(father)]
            if surnames[0] == surnames[-1]:
                surnames = surnames[:1]
            child = self.make_person(group, gender, year, tier, country=country, surnames=surnames)
            child.mother, child.father = mother.id, father.id
        child.employer = self.employer_for(group, year)
        return child


def _bucket(rng: random.Random, tier: str) -> str:
    x = rng.random()
    if tier == "famous":
        return "frequent" if x < 0.7 else "medium" if x < 0.85 else "rare"
    if tier == "medium":
        return "medium" if x < 0.8 else "rare"
    return "rare"


def _answer(w: World, relation: str, obj, subject) -> dict:
    if relation in ("birth_year", "founded"):
        return {"pt": str(obj), "en": str(obj)}
    if relation == "population":
        return {"pt": fmt_int(obj, "pt"), "en": fmt_int(obj, "en")}
    if relation == "profession":
        _, m, f, en = PROFESSION[obj]
        return {"pt": f if subject.gender == "f" else m, "en": en}
    if relation == "industry":
        k = ORG_KIND[obj]
        return {"pt": k[3], "en": k[4]}
    return {"pt": w.name(obj, "pt"), "en": w.name(obj, "en")}


def make_facts(w: World, cfg: WorldConfig) -> None:
    rng = random.Random(f"world-facts-{cfg.seed}")
    n_of = {"frequent": lambda: rng.randint(*cfg.frequent_pages),
            "medium": lambda: rng.randint(*cfg.medium_pages), "rare": lambda: 1}
    rows = []
    for c in w.cities.values():
        rows += [(c, "country", c.country), (c, "population", c.population), (c, "founded", c.founded)]
    for o in w.orgs.values():
        rows += [(o, "founded", o.founded), (o, "hq", o.hq), (o, "founder", o.founder), (o, "industry", o.kind)]
    for p in w.people.values():
        for rel in PERSON_RELATIONS:
            v = getattr(p, rel)
            if v is not None:
                rows.append((p, rel, v))
    current, buckets = None, []
    for e, rel, obj in rows:
        bucket = _bucket(rng, e.tier)
        if e.id != current:  # the entity's first fact sets its fame: famous -> frequent, medium -> medium
            current = e.id
            bucket = {"famous": "frequent", "medium": "medium"}.get(e.tier, "rare")
        stated = (rng.choice(["forward_only", "both"]) if rel in DIRECTIONAL else None)
        f = Fact(f"F{len(w.facts):05d}", e.id, rel, obj, bucket, n_of[bucket](), stated)
        f.answer = _answer(w, rel, obj, e)
        w.facts.append(f)
        buckets.append(bucket)


def build_world(cfg: WorldConfig) -> World:
    """Entities and facts for cfg.seed; the same seed gives the same world."""
    b = _Builder(cfg)
    n = cfg.counts()
    b.make_cities(max(len(b.countries), n["cities"]))
    b.make_orgs(n["orgs"])
    # Entity tiers: a share of the famous and medium slots goes to cities and organisations.
    city_ids, org_ids = list(b.cities), list(b.orgs)
    b.rng.shuffle(city_ids)
    b.rng.shuffle(org_ids)
    famous_places = max(1, n["famous"] // 5)
    famous_orgs = max(1, n["famous"] // 8)
    medium_places = max(1, n["medium"] // 6)
    medium_orgs = max(1, n["medium"] // 8)
    for cid in city_ids[:famous_places]:
        b.cities[cid].tier = "famous"
    for cid in city_ids[famous_places:famous_places + medium_places]:
        b.cities[cid].tier = "medium"
    for oid in org_ids[:famous_orgs]:
        b.orgs[oid].tier = "famous"
    for oid in org_ids[famous_orgs:famous_orgs + medium_orgs]:
        b.orgs[oid].tier = "medium"
    b.make_founders()
    for _ in range(max(1, n["famous"] - famous_places - famous_orgs)):
        b.make_family("famous", 0.9)
    for _ in range(max(1, n["medium"] - medium_places - medium_orgs)):
        b.make_family("medium", 0.6)
    for _ in range(n["rare"]):
        b.make_family("rare", 0.2)
    w = World(b.countries, b.cities, b.orgs, b.people, [])
    make_facts(w, cfg)
    return w

"""How big the world is: one dataclass, one preset per speedrun size, derived counts."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 0
    pages: int = 4000                      # target number of pages in the crawl (all kinds)
    shards: int = 4                        # crawl/*.warc.gz files
    frequent_pages: tuple[int, int] = (20, 36)  # a "frequent" fact is stated on this many pages
    medium_pages: tuple[int, int] = (3, 6)      # a "medium" fact; a "rare" fact is on exactly one page
    # Share of the crawl per page family (the rest of the content is entity pages).
    math_share: float = 0.07
    junk_shares: tuple[tuple[str, float], ...] = (
        ("adult", 0.05), ("spam", 0.05), ("foreign", 0.06), ("lowq", 0.06),
        ("boilerplate", 0.015), ("binary", 0.01), ("pii", 0.04), ("mirror", 0.04), ("near_dup", 0.04),
    )
    crawl_start: str = "2024-03-01"        # fake crawl dates start here (plus a seed-derived offset)
    legacy_charset_share: float = 0.05     # pt/es/fr/de HTML pages served as windows-1252 / iso-8859-1

    def counts(self) -> dict[str, int]:
        """Derived entity counts. Entity pages get what is left after math and junk; about half of
        them go to famous entities (frequent facts), a quarter to medium ones and a quarter to
        rare ones, which share list pages (~2.5 per page)."""
        junk = sum(s for _, s in self.junk_shares)
        entity_pages = max(20, self.pages * (1.0 - junk - self.math_share))
        mean_f = sum(self.frequent_pages) / 2
        mean_m = sum(self.medium_pages) / 2
        return {
            "famous": max(3, round(0.45 * entity_pages / mean_f)),
            "medium": max(4, round(0.25 * entity_pages / mean_m)),
            "rare": max(10, round(0.22 * entity_pages * 2.2)),
            "cities": max(8, round(entity_pages / 40)),
            "orgs": max(6, round(entity_pages / 60)),
        }


PRESETS = {
    "micro": WorldConfig(pages=150, shards=2, frequent_pages=(6, 10), medium_pages=(2, 3)),
    "tiny": WorldConfig(),
    "small": WorldConfig(pages=40000, shards=16, frequent_pages=(40, 80), medium_pages=(4, 10)),
}


def config_for(preset: str = "tiny", *, seed: int | None = None, pages: int | None = None) -> WorldConfig:
    if preset not in PRESETS:
        raise ValueError(f"unknown world size {preset!r}; choose one of: {', '.join(PRESETS)}")
    cfg = PRESETS[preset]
    if seed is not None:
        cfg = replace(cfg, seed=seed)
    if pages is not None:
        cfg = replace(cfg, pages=pages)
    return cfg

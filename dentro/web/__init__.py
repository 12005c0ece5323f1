"""Stage 1, process the internet: raw crawl files -> a clean, deduplicated corpus.

FineWeb's order (Penedo et al. 2024, "The FineWeb Datasets", §3):
    readers     WARC / WET / HTML folders / JSONL / Parquet -> Record
    url_filter  UT1 blocklists + banned words in the URL
    extract     HTML -> main-content text (resiliparse; trafilatura for high precision)
    language    fastText lid.176, keep the asked languages above a score
    quality     Gopher repetition + quality, C4, FineWeb filters, per-language settings
    dedup       exact + MinHash near-duplicates, across the whole corpus
    pii         emails, IPs, phones, CPF, CNPJ, card numbers -> placeholders
    pipeline    the stages wired per input file, then the global dedup, shards, stats
    executors   local processes or Ray, same output
"""

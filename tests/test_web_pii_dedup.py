"""PII anonymisation (checksums, decoys kept) and deduplication (exact, near, across files)."""

import random

import numpy as np
from hypothesis import given, settings, strategies as st

from dentro.web import dedup as dd
from dentro.web.pii import anonymise, cnpj_valid, cpf_valid, luhn_valid
from web_fixtures import prose


def make_cpf(nine: str) -> str:
    d = [int(c) for c in nine]
    for k in (9, 10):
        d.append(sum(d[i] * (k + 1 - i) for i in range(k)) * 10 % 11 % 10)
    s = "".join(map(str, d))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"


def test_checksums():
    assert cpf_valid("52998224725") and not cpf_valid("52998224726") and not cpf_valid("11111111111")
    assert cnpj_valid("11222333000181") and not cnpj_valid("11222333000180")
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_every_pii_kind_replaced_and_decoys_kept():
    text = ("Escreva para maria.souza@exemplo.com.br ou ligue (21) 98765-4321. "
            "CPF 529.982.247-25, CNPJ 11.222.333/0001-81, cartão 5555 5555 5555 4444, "
            "servidor 203.0.113.45 e 2001:0db8:85a3:0000:0000:8a2e:0370:7334. Call +1 (555) 123-4567. "
            # decoys: a CPF with a wrong check digit, a version number, dates, an order number, ISBN
            "CPF inválido 529.982.247-26, versão 1.2.3.4, em 12/03/2024 e 2024-03-12, "
            "pedido 4111111111111112, ISBN 978-3-16-148410-0.")
    out, counts = anonymise(text)
    assert dict(counts) == {"email": 1, "phone": 2, "cpf": 1, "cnpj": 1, "card": 1, "ip": 2}
    for kept in ("529.982.247-26", "1.2.3.4", "12/03/2024", "2024-03-12", "4111111111111112",
                 "978-3-16-148410-0"):
        assert kept in out, kept
    for gone in ("maria.souza", "98765-4321", "529.982.247-25", "0001-81", "5555 5555", "203.0.113.45"):
        assert gone not in out, gone


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_valid_cpfs_always_replaced_invalid_never(nine):
    cpf = make_cpf(nine)
    if len(set(cpf.replace(".", "").replace("-", ""))) == 1:
        return
    out, c = anonymise(f"Meu CPF é {cpf} e pronto.")
    assert c["cpf"] == 1 and cpf not in out
    bad = cpf[:-1] + str((int(cpf[-1]) + 1) % 10)
    out, c = anonymise(f"Meu CPF é {bad} e pronto.")
    assert bad in out and c["cpf"] == 0


def test_minhash_finds_near_duplicates_not_different_pages():
    a = prose("en", 1, sentences=12)
    words = a.split()
    rng = random.Random(0)
    for i in rng.sample(range(len(words)), 3):   # a near-duplicate: 3 words changed out of ~150
        words[i] = "changed"
    b = " ".join(words)
    c = prose("en", 2, sentences=12)
    sa, sb, sc = dd.signature(a), dd.signature(b), dd.signature(c)
    assert any(x == y for x, y in zip(sa, sb))        # share at least one band: a candidate pair
    assert not any(x == y for x, y in zip(sa, sc))
    assert dd.exact_hash(a) == dd.exact_hash(a.upper().replace(".", " . "))   # normalised
    assert dd.exact_hash(a) != dd.exact_hash(b)


def test_find_duplicates_keeps_first_in_crawl_order_transitively():
    texts = [prose("pt", 1, 12), prose("pt", 2, 12), prose("pt", 1, 12), prose("pt", 3, 12)]
    near = texts[1].split()
    near[5] = "diferente"
    texts.append(" ".join(near))
    exact = np.array([dd.exact_hash(t) for t in texts])
    bands = np.array([dd.signature(t) for t in texts])
    reason, root, sizes = dd.find_duplicates(exact, bands)
    assert reason.tolist() == [0, 0, 1, 0, 2]
    assert root.tolist() == [0, 1, 0, 3, 1] and sizes.tolist() == [2, 2, 2, 1, 2]
    # chains: a~b, b~c joins a, b and c, keeping only the first
    r, root, _ = dd.find_duplicates(np.array([1, 2, 3]), np.array([[10, 20], [10, 30], [40, 30]]))
    assert r.tolist() == [0, 2, 2] and root.tolist() == [0, 0, 0]


def test_a_candidate_pair_is_joined_only_when_its_minhash_values_agree():
    exact = np.array([10, 11, 12])
    bands = np.array([[1, 2], [1, 3], [4, 5]])   # documents 0 and 1 share a band: a candidate pair
    mins = np.zeros((3, 10), np.uint32)
    mins[1, :5] = 7                              # ... whose MinHash values agree on 5 of 10
    assert dd.find_duplicates(exact, bands, mins, verify=0.6)[0].tolist() == [0, 0, 0]
    assert dd.find_duplicates(exact, bands)[0].tolist() == [0, 2, 0]   # unchecked, as FineWeb
    mins[1, :3] = 0                              # 8 of 10 agree
    assert dd.find_duplicates(exact, bands, mins, verify=0.6)[0].tolist() == [0, 2, 0]


def test_the_checked_minhash_still_finds_near_duplicates_and_estimates_jaccard():
    texts = [prose("pt", 1, 12), prose("pt", 2, 12), prose("pt", 1, 12), prose("pt", 3, 12)]
    near = texts[1].split()
    near[5] = "diferente"
    texts.append(" ".join(near))
    sketches = [dd.sketch(t) for t in texts]
    bands = np.array([b for b, _ in sketches])
    mins = np.array([m for _, m in sketches])
    assert mins.shape == (5, 112) and mins.dtype == np.uint32
    reason, root, _ = dd.find_duplicates(np.array([dd.exact_hash(t) for t in texts]), bands, mins,
                                         dd.MinHashConfig().verify)
    assert reason.tolist() == [0, 0, 1, 0, 2] and root.tolist() == [0, 1, 0, 3, 1]

    def jaccard(a, b):   # the true 5-gram Jaccard similarity the agreeing share estimates
        grams = [{tuple(w[i:i + 5]) for i in range(len(w) - 4)} for w in (dd.normalise(a).split(), dd.normalise(b).split())]
        return len(grams[0] & grams[1]) / len(grams[0] | grams[1])

    for i, j in ((1, 4), (1, 3), (0, 1)):
        assert abs((mins[i] == mins[j]).mean() - jaccard(texts[i], texts[j])) < 0.12, (i, j)

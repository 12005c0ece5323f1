/* run.c: run a dentro model in one C file (libc and libm only; OpenMP if you ask for it).

   An LLM is two files: model.bin (written by `dentro export --format c`, layout in
   docs/export.md) and this program, which
     1. reads model.bin: config, tokenizer, Unicode tables, weights (fp32 or int8);
     2. tokenizes text exactly like dentro (dentro/tokenizer/bpe.py): split the text with
        the same rules as SPLIT_PATTERN, then byte-level BPE on each piece, merging the
        pair of lowest rank first, as tiktoken does;
     3. runs the Qwen3 forward pass one token at a time with a KV cache (as
        dentro/model/gpt.py: RMSNorm, QK-norm, RoPE rotate-half, GQA, SwiGLU, lm_head);
     4. samples (temperature, top-p, seed) and prints text, or chats with the ChatML template.

   build:   cc -O2 -o run run.c -lm            (add -fopenmp for several cores)
   run:     ./run model.bin -i "O céu é"
            ./run model.bin -m chat             (or -m chat -i "Olá!" for one turn)
   tests:   -m encode (ids of -i, or of each NUL-terminated record on stdin),
            -m tokens (generated ids), -m logits (next-token logits after -i)
   Structure after Karpathy's llama2.c. */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VERSION 1
#define HEADER_BYTES 256

static void die(const char *msg) { fprintf(stderr, "run: %s\n", msg); exit(1); }

static void *xmalloc(size_t n) {
    void *p = calloc(n ? n : 1, 1);
    if (!p) die("out of memory");
    return p;
}

/* ---- the model ------------------------------------------------------------------------ */

typedef struct {
    int dim, n_layers, n_heads, n_kv_heads, head_dim, hidden_dim, vocab_size, seq_len;
    float rope_theta, eps;
    int quant, group_size;  /* quant 0: fp32 matrices; 1: int8 with one fp32 scale per group */
} Config;

/* A matrix (rows, cols) stored row-major: fp32 in f, or int8 in q with scales s[rows*cols/gs]. */
typedef struct { const float *f; const int8_t *q; const float *s; } Mat;

typedef struct {
    const float *in_norm, *q_norm, *k_norm, *post_norm;  /* (dim), (head_dim), (head_dim), (dim) */
    Mat wq, wk, wv, wo;                                   /* (H*D, dim), 2 x (KV*D, dim), (dim, H*D) */
    Mat gate, up, down;                                   /* 2 x (hidden, dim), (dim, hidden) */
} Layer;

typedef struct {
    Mat embed, lm_head;  /* (vocab, dim) each */
    const float *norm;   /* (dim) */
    Layer *layers;
} Weights;

typedef struct {
    float *x, *xb, *xb2, *q, *k, *v, *att, *h1, *h2, *logits;  /* activations of one position */
    float *key_cache, *value_cache;  /* (layers, seq_len, KV*D) */
    float *rope_inv_freq;            /* (head_dim/2) */
} State;

/* ---- the tokenizer -------------------------------------------------------------------- */

typedef struct { uint32_t lo, hi; } Range;
typedef struct { Range *r; int n; } Table;

typedef struct {
    int n_tokens, n_ranks;      /* ids < n_ranks are mergeable (BPE), the rest special */
    unsigned char **bytes;      /* bytes of each id (a special token: its spelling) */
    int *len;
    int *slots, n_slots;        /* open-addressing hash: token bytes -> lowest id */
    Table letters, numbers, spaces;  /* \p{L}, \p{N}, \s as code point ranges */
    int eot, im_start, im_end;  /* <|endoftext|>, <|im_start|>, <|im_end|>; -1 if absent */
} Tokenizer;

typedef struct { int *a; int n, cap; } Ids;

static void push(Ids *v, int x) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->a = realloc(v->a, (size_t)v->cap * sizeof(int));
        if (!v->a) die("out of memory");
    }
    v->a[v->n++] = x;
}

/* ---- reading model.bin ---------------------------------------------------------------- */

typedef struct { const unsigned char *p, *end; } Reader;

static const void *take(Reader *r, size_t n) {
    if ((size_t)(r->end - r->p) < n) die("model file is truncated");
    const void *out = r->p;
    r->p += n;
    return out;
}
static int32_t take_i32(Reader *r) { int32_t x; memcpy(&x, take(r, 4), 4); return x; }
static float take_f32(Reader *r) { float x; memcpy(&x, take(r, 4), 4); return x; }

static Table take_table(Reader *r) {
    Table t;
    t.n = take_i32(r);
    t.r = (Range *)take(r, (size_t)t.n * sizeof(Range));
    return t;
}

static Mat take_mat(Reader *r, const Config *c, int rows, int cols) {
    Mat m = {0};
    size_t n = (size_t)rows * cols;
    if (c->quant == 0) {
        m.f = take(r, n * 4);
    } else {
        m.q = take(r, n);
        m.s = take(r, n / c->group_size * 4);
    }
    return m;
}

static uint32_t hash_bytes(const unsigned char *s, int n) {  /* FNV-1a */
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

/* The rank (= id) of a byte string, or -1. Two ids may share bytes (rustbpe can learn one string
   through two merges); the lowest id wins, as in dentro's Tokenizer. */
static int lookup(const Tokenizer *t, const unsigned char *s, int n) {
    for (uint32_t h = hash_bytes(s, n) & (t->n_slots - 1);; h = (h + 1) & (t->n_slots - 1)) {
        int id = t->slots[h];
        if (id < 0) return -1;
        if (t->len[id] == n && memcmp(t->bytes[id], s, n) == 0) return id;
    }
}

static int find_special(const Tokenizer *t, const char *name) {
    for (int i = t->n_ranks; i < t->n_tokens; i++)
        if (t->len[i] == (int)strlen(name) && memcmp(t->bytes[i], name, t->len[i]) == 0) return i;
    return -1;
}

static unsigned char *load(const char *path, Config *c, Tokenizer *t, Weights *w) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "run: cannot open %s\n", path); exit(1); }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = xmalloc((size_t)size);  /* the whole file in memory; weights point into it */
    if (fread(data, 1, (size_t)size, f) != (size_t)size) die("cannot read the model file");
    fclose(f);
    Reader r = {data, data + size};
    if (memcmp(take(&r, 4), "dntr", 4) != 0) die("not a dentro model.bin (bad magic)");
    if (take_i32(&r) != VERSION) die("model.bin version is not 1: export it again with this dentro");
    c->dim = take_i32(&r); c->n_layers = take_i32(&r); c->n_heads = take_i32(&r);
    c->n_kv_heads = take_i32(&r); c->head_dim = take_i32(&r); c->hidden_dim = take_i32(&r);
    c->vocab_size = take_i32(&r); c->seq_len = take_i32(&r);
    c->rope_theta = take_f32(&r); c->eps = take_f32(&r);
    c->quant = take_i32(&r); c->group_size = take_i32(&r);
    t->n_tokens = take_i32(&r); t->n_ranks = take_i32(&r);
    r.p = data + HEADER_BYTES;

    /* tokenizer: (uint32 length, bytes) per id, then the three Unicode tables */
    t->bytes = xmalloc((size_t)t->n_tokens * sizeof(char *));
    t->len = xmalloc((size_t)t->n_tokens * sizeof(int));
    for (int i = 0; i < t->n_tokens; i++) {
        t->len[i] = take_i32(&r);
        t->bytes[i] = (unsigned char *)take(&r, t->len[i]);
    }
    for (t->n_slots = 1; t->n_slots < 2 * t->n_ranks; t->n_slots *= 2) {}
    t->slots = xmalloc((size_t)t->n_slots * sizeof(int));
    for (int i = 0; i < t->n_slots; i++) t->slots[i] = -1;
    for (int i = 0; i < t->n_ranks; i++) {
        if (lookup(t, t->bytes[i], t->len[i]) >= 0) continue;  /* a later twin: the first id wins */
        uint32_t h = hash_bytes(t->bytes[i], t->len[i]) & (t->n_slots - 1);
        while (t->slots[h] >= 0) h = (h + 1) & (t->n_slots - 1);
        t->slots[h] = i;
    }
    t->letters = take_table(&r);
    t->numbers = take_table(&r);
    t->spaces = take_table(&r);
    t->eot = find_special(t, "<|endoftext|>");
    t->im_start = find_special(t, "<|im_start|>");
    t->im_end = find_special(t, "<|im_end|>");

    /* weights start at the next multiple of 64 bytes */
    r.p = data + (((r.p - data) + 63) / 64) * 64;
    int D = c->head_dim, qd = c->n_heads * D, kvd = c->n_kv_heads * D;
    w->embed = take_mat(&r, c, c->vocab_size, c->dim);
    w->layers = xmalloc((size_t)c->n_layers * sizeof(Layer));
    for (int l = 0; l < c->n_layers; l++) {
        Layer *L = &w->layers[l];
        L->in_norm = take(&r, c->dim * 4);
        L->wq = take_mat(&r, c, qd, c->dim);
        L->wk = take_mat(&r, c, kvd, c->dim);
        L->wv = take_mat(&r, c, kvd, c->dim);
        L->wo = take_mat(&r, c, c->dim, qd);
        L->q_norm = take(&r, D * 4);
        L->k_norm = take(&r, D * 4);
        L->post_norm = take(&r, c->dim * 4);
        L->gate = take_mat(&r, c, c->hidden_dim, c->dim);
        L->up = take_mat(&r, c, c->hidden_dim, c->dim);
        L->down = take_mat(&r, c, c->dim, c->hidden_dim);
    }
    w->norm = take(&r, c->dim * 4);
    w->lm_head = take_mat(&r, c, c->vocab_size, c->dim);
    if (r.p != r.end) die("model.bin has bytes after the weights: config and weights disagree");
    return data;
}

/* ---- the forward pass ----------------------------------------------------------------- */

static void rmsnorm(float *out, const float *x, const float *weight, int n, float eps) {
    float ss = 0.0f;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    float r = 1.0f / sqrtf(ss / n + eps);
    for (int i = 0; i < n; i++) out[i] = weight[i] * (x[i] * r);
}

/* out (rows) = W (rows, cols) @ x (cols). int8: each group of gs weights shares one scale. */
static void matmul(float *out, const float *x, const Mat *w, int rows, int cols, int gs) {
    int i;
#pragma omp parallel for private(i)
    for (i = 0; i < rows; i++) {
        float acc = 0.0f;
        if (w->f) {
            const float *row = w->f + (size_t)i * cols;
            for (int j = 0; j < cols; j++) acc += row[j] * x[j];
        } else {
            const int8_t *row = w->q + (size_t)i * cols;
            const float *scale = w->s + (size_t)i * cols / gs;
            for (int g = 0; g < cols / gs; g++) {
                float part = 0.0f;
                for (int j = g * gs; j < (g + 1) * gs; j++) part += row[j] * x[j];
                acc += part * scale[g];
            }
        }
        out[i] = acc;
    }
}

static void embed_row(float *out, const Mat *e, int id, int dim, int gs) {
    if (e->f) { memcpy(out, e->f + (size_t)id * dim, dim * sizeof(float)); return; }
    for (int j = 0; j < dim; j++) out[j] = e->q[(size_t)id * dim + j] * e->s[((size_t)id * dim + j) / gs];
}

/* Rotate each pair (v[i], v[i + D/2]) by the angle pos * theta^(-2i/D) ("rotate half", as HF). */
static void rope(float *v, int D, int pos, const float *inv_freq) {
    for (int i = 0; i < D / 2; i++) {
        float angle = (float)pos * inv_freq[i];
        float co = cosf(angle), si = sinf(angle);
        float x1 = v[i], x2 = v[i + D / 2];
        v[i] = x1 * co - x2 * si;
        v[i + D / 2] = x2 * co + x1 * si;
    }
}

static void alloc_state(State *s, const Config *c) {
    int qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    int wide = qd > c->dim ? qd : c->dim;
    s->x = xmalloc(c->dim * 4); s->xb = xmalloc(wide * 4); s->xb2 = xmalloc(c->dim * 4);
    s->q = xmalloc(qd * 4); s->k = xmalloc(kvd * 4); s->v = xmalloc(kvd * 4);
    s->att = xmalloc((size_t)c->seq_len * 4);
    s->h1 = xmalloc(c->hidden_dim * 4); s->h2 = xmalloc(c->hidden_dim * 4);
    s->logits = xmalloc((size_t)c->vocab_size * 4);
    s->key_cache = xmalloc((size_t)c->n_layers * c->seq_len * kvd * 4);
    s->value_cache = xmalloc((size_t)c->n_layers * c->seq_len * kvd * 4);
    s->rope_inv_freq = xmalloc(c->head_dim / 2 * 4);
    for (int i = 0; i < c->head_dim / 2; i++)
        s->rope_inv_freq[i] = powf(c->rope_theta, -(float)(2 * i) / c->head_dim);
}

/* Run token at position pos (its keys and values join the cache). With want_logits, fills
   s->logits (vocab) with the next-token logits; prompt tokens before the last skip lm_head. */
static void forward(const Config *c, const Weights *w, State *s, int token, int pos, int want_logits) {
    int dim = c->dim, D = c->head_dim, kvd = c->n_kv_heads * D, gs = c->group_size;
    int rep = c->n_heads / c->n_kv_heads;  /* query heads per KV head (GQA) */
    embed_row(s->x, &w->embed, token, dim, gs);
    for (int l = 0; l < c->n_layers; l++) {
        const Layer *L = &w->layers[l];
        float *kc = s->key_cache + ((size_t)l * c->seq_len + pos) * kvd;
        float *vc = s->value_cache + ((size_t)l * c->seq_len + pos) * kvd;
        /* attention: q, k, v; QK-norm per head, then RoPE; k and v go into the cache */
        rmsnorm(s->xb, s->x, L->in_norm, dim, c->eps);
        matmul(s->q, s->xb, &L->wq, c->n_heads * D, dim, gs);
        matmul(kc, s->xb, &L->wk, kvd, dim, gs);
        matmul(vc, s->xb, &L->wv, kvd, dim, gs);
        for (int h = 0; h < c->n_heads; h++) {
            rmsnorm(s->q + h * D, s->q + h * D, L->q_norm, D, c->eps);
            rope(s->q + h * D, D, pos, s->rope_inv_freq);
        }
        for (int h = 0; h < c->n_kv_heads; h++) {
            rmsnorm(kc + h * D, kc + h * D, L->k_norm, D, c->eps);
            rope(kc + h * D, D, pos, s->rope_inv_freq);
        }
        /* each head attends to positions 0..pos: softmax(q.k / sqrt(D)) weighted sum of v */
        for (int h = 0; h < c->n_heads; h++) {
            const float *q = s->q + h * D;
            int kh = h / rep;
            float *out = s->xb + h * D, max = -INFINITY, sum = 0.0f;
            for (int t = 0; t <= pos; t++) {
                const float *k = s->key_cache + ((size_t)l * c->seq_len + t) * kvd + kh * D;
                float score = 0.0f;
                for (int i = 0; i < D; i++) score += q[i] * k[i];
                s->att[t] = score / sqrtf((float)D);
                if (s->att[t] > max) max = s->att[t];
            }
            for (int t = 0; t <= pos; t++) { s->att[t] = expf(s->att[t] - max); sum += s->att[t]; }
            memset(out, 0, D * sizeof(float));
            for (int t = 0; t <= pos; t++) {
                const float *v = s->value_cache + ((size_t)l * c->seq_len + t) * kvd + kh * D;
                float a = s->att[t] / sum;
                for (int i = 0; i < D; i++) out[i] += a * v[i];
            }
        }
        matmul(s->xb2, s->xb, &L->wo, dim, c->n_heads * D, gs);
        for (int i = 0; i < dim; i++) s->x[i] += s->xb2[i];
        /* SwiGLU MLP: down(silu(gate(x)) * up(x)) */
        rmsnorm(s->xb, s->x, L->post_norm, dim, c->eps);
        matmul(s->h1, s->xb, &L->gate, c->hidden_dim, dim, gs);
        matmul(s->h2, s->xb, &L->up, c->hidden_dim, dim, gs);
        for (int i = 0; i < c->hidden_dim; i++) s->h1[i] = s->h1[i] / (1.0f + expf(-s->h1[i])) * s->h2[i];
        matmul(s->xb2, s->h1, &L->down, dim, c->hidden_dim, gs);
        for (int i = 0; i < dim; i++) s->x[i] += s->xb2[i];
    }
    if (!want_logits) return;
    rmsnorm(s->xb, s->x, w->norm, dim, c->eps);
    matmul(s->logits, s->xb, &w->lm_head, c->vocab_size, dim, gs);
}

/* ---- tokenizing: the split rules of dentro's SPLIT_PATTERN, then BPE -------------------- */

static int in_table(const Table *t, uint32_t cp) {  /* binary search over sorted ranges */
    int lo = 0, hi = t->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < t->r[mid].lo) hi = mid - 1;
        else if (cp > t->r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

/* UTF-8 -> code points; cp[i] starts at byte off[i] (off[n] = len). A byte that does not start a
   valid sequence stands for itself as U+FFFD (punctuation), so any input still round-trips. */
static int utf8_decode(const unsigned char *s, int len, uint32_t *cp, int *off) {
    int n = 0, i = 0;
    while (i < len) {
        int k = s[i] < 0x80 ? 1 : (s[i] >> 5) == 6 ? 2 : (s[i] >> 4) == 14 ? 3 : (s[i] >> 3) == 30 ? 4 : 0;
        uint32_t c = k == 1 ? s[i] : k == 2 ? s[i] & 31u : k == 3 ? s[i] & 15u : s[i] & 7u;
        for (int j = 1; j < k; j++) {
            if (i + j >= len || (s[i + j] & 0xC0) != 0x80) { k = 0; break; }
            c = (c << 6) | (s[i + j] & 63u);
        }
        if (k == 0) { c = 0xFFFD; k = 1; }
        off[n] = i; cp[n++] = c; i += k;
    }
    off[n] = len;
    return n;
}

/* ASCII letters to lower case: the contractions match in ASCII case only ('S, 'Ll), as in
   llama.cpp's qwen2 pre-tokenizer (no Unicode folding: 'ſ is not 's). */
static uint32_t fold(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Where the regex match that starts at code point i ends. SPLIT_PATTERN's alternatives in order
   (the first that matches wins, as in the regex engine):
     1 '[sS] '[tT] '[rR][eE] '[vV][eE] '[mM] '[lL][lL] '[dD]          5 \s*[\r\n]+
     2 [^\r\n\p{L}\p{N}]?\p{L}+    3 \p{N}    4  ?[^\s\p{L}\p{N}]+[\r\n]*    6 \s+(?!\S)   7 \s+ */
static int piece_end(const Tokenizer *t, const uint32_t *c, int n, int i) {
#define L_(x) in_table(&t->letters, (x))
#define N_(x) in_table(&t->numbers, (x))
#define S_(x) in_table(&t->spaces, (x))
#define RN(x) ((x) == '\r' || (x) == '\n')
#define P_(x) (!S_(x) && !L_(x) && !N_(x))
    /* 1: a contraction, in any ASCII case */
    if (c[i] == '\'' && i + 1 < n) {
        uint32_t a = fold(c[i + 1]), b = i + 2 < n ? fold(c[i + 2]) : 0;
        if (a == 's' || a == 'd' || a == 'm' || a == 't') return i + 2;
        if ((a == 'l' && b == 'l') || (a == 'v' && b == 'e') || (a == 'r' && b == 'e')) return i + 3;
    }
    /* 2: one optional char that is not \r, \n, a letter or a number, then letters */
    int j = i + (!L_(c[i]) && !N_(c[i]) && !RN(c[i]) && i + 1 < n && L_(c[i + 1]));
    if (L_(c[j])) {
        while (j < n && L_(c[j])) j++;
        return j;
    }
    /* 3: one number (a digit, or any \p{N}: ², ½, Ⅻ), never two */
    if (N_(c[i])) return i + 1;
    /* 4: an optional space, punctuation (neither space, letter nor number), trailing newlines */
    j = i + (c[i] == ' ' && i + 1 < n && P_(c[i + 1]));
    if (P_(c[j])) {
        while (j < n && P_(c[j])) j++;
        while (j < n && RN(c[j])) j++;
        return j;
    }
    /* c[i] is whitespace: the run of whitespace is c[i..e) */
    int e = i;
    while (e < n && S_(c[e])) e++;
    for (int k = e - 1; k >= i; k--)  /* 5: up to the run's last \r or \n (\s* backtracks to it) */
        if (RN(c[k])) return k + 1;
    if (e == n) return e;       /* 6: the run ends the text ... */
    if (e - 1 > i) return e - 1;  /* ... or leaves its last space to the word after it */
    return e;                   /* 7: a single space before a non-space */
#undef L_
#undef N_
#undef S_
#undef RN
#undef P_
}

/* Byte-level BPE of one piece: start from single bytes and merge, again and again, the adjacent
   pair whose concatenation has the lowest rank (the leftmost on a tie), as tiktoken does. */
static void bpe(const Tokenizer *t, const unsigned char *s, int len, Ids *out, int *start) {
    int whole = lookup(t, s, len);
    if (whole >= 0) { push(out, whole); return; }  /* tiktoken's shortcut: the piece is a token */
    int m = len;  /* parts: [start[i], start[i+1]) for i < m */
    for (int i = 0; i <= len; i++) start[i] = i;
    while (m > 1) {
        int best = -1, bi = -1;
        for (int i = 0; i + 1 < m; i++) {
            int r = lookup(t, s + start[i], start[i + 2] - start[i]);
            if (r >= 0 && (best < 0 || r < best)) { best = r; bi = i; }
        }
        if (bi < 0) break;
        memmove(&start[bi + 1], &start[bi + 2], (size_t)(m - bi - 1) * sizeof(int));
        m--;
    }
    for (int i = 0; i < m; i++) push(out, lookup(t, s + start[i], start[i + 1] - start[i]));
}

/* Plain text -> ids (never a special id: text that spells <|im_start|> stays text). */
static void encode(const Tokenizer *t, const char *text, int len, Ids *out) {
    uint32_t *cp = xmalloc(((size_t)len + 1) * sizeof(uint32_t));
    int *off = xmalloc(((size_t)len + 1) * sizeof(int)), *start = xmalloc(((size_t)len + 1) * sizeof(int));
    int n = utf8_decode((const unsigned char *)text, len, cp, off);
    for (int i = 0; i < n;) {
        int e = piece_end(t, cp, n, i);
        bpe(t, (const unsigned char *)text + off[i], off[e] - off[i], out, start);
        i = e;
    }
    free(cp); free(off); free(start);
}

/* ---- sampling --------------------------------------------------------------------------- */

static uint64_t rng_state = 1;
static float random_f32(void) {  /* xorshift*, uniform in [0, 1) */
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return (float)((rng_state * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f;
}

typedef struct { float p; int i; } ProbIndex;
static int by_prob_desc(const void *a, const void *b) {
    float x = ((const ProbIndex *)a)->p, y = ((const ProbIndex *)b)->p;
    return x > y ? -1 : x < y ? 1 : 0;
}

/* temperature 0: the most likely token (the first on a tie, as torch.argmax). Otherwise softmax
   of logits / temperature, keeping with top-p < 1 the smallest set of the most likely tokens
   whose probabilities reach top_p (dentro.model.engine.filter_logits), then a draw. */
static int sample(float *logits, int n, float temperature, float top_p, ProbIndex *buf) {
    int best = 0;
    for (int i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
    if (temperature == 0.0f) return best;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) { buf[i].p = expf((logits[i] - logits[best]) / temperature); buf[i].i = i; sum += buf[i].p; }
    for (int i = 0; i < n; i++) buf[i].p /= sum;
    int keep = n;
    if (top_p < 1.0f) {
        qsort(buf, n, sizeof(ProbIndex), by_prob_desc);
        float cum = 0.0f;
        for (int i = 0; i < n; i++) { cum += buf[i].p; if (cum >= top_p) { keep = i + 1; break; } }
    }
    float mass = 0.0f, r;
    for (int i = 0; i < keep; i++) mass += buf[i].p;
    r = random_f32() * mass;
    for (int i = 0; i < keep; i++) { r -= buf[i].p; if (r < 0.0f) return buf[i].i; }
    return buf[keep - 1].i;
}

/* ---- the program -------------------------------------------------------------------------- */

typedef struct {
    Config c; Weights w; State s; Tokenizer t; ProbIndex *probs;
    float temperature, top_p; int steps, pos;
} Run;

static long now_ms(void) { struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts); return ts.tv_sec * 1000 + ts.tv_nsec / 1000000; }

static void print_token(const Tokenizer *t, int id) {
    if (id >= 0 && id < t->n_ranks) fwrite(t->bytes[id], 1, t->len[id], stdout);
    fflush(stdout);
}

/* Feed ids at the next positions; returns 0 if the context window would overflow. */
static int feed(Run *r, const Ids *ids) {
    if (r->pos + ids->n > r->c.seq_len) return 0;
    for (int i = 0; i < ids->n; i++, r->pos++) forward(&r->c, &r->w, &r->s, ids->a[i], r->pos, i == ids->n - 1);
    return 1;
}

/* Sample up to r->steps tokens after what was fed; stop after a token in stop[0..1] (returned,
   not fed). print: 1 text, 2 ids. Returns the stop token or -1. */
static int generate(Run *r, int stop0, int stop1, int print, int *n_new) {
    *n_new = 0;
    for (int k = 0; k < r->steps; k++) {
        int next = sample(r->s.logits, r->c.vocab_size, r->temperature, r->top_p, r->probs);
        (*n_new)++;
        if (print == 2) printf("%s%d", k ? " " : "", next);
        if (next == stop0 || next == stop1) return next;
        if (print == 1) print_token(&r->t, next);
        if (r->pos >= r->c.seq_len) break;
        forward(&r->c, &r->w, &r->s, next, r->pos++, 1);
    }
    return -1;
}

static void add_text(const Tokenizer *t, Ids *ids, const char *s) { encode(t, s, (int)strlen(s), ids); }

static void chat(Run *r, const char *system, const char *once) {
    Tokenizer *t = &r->t;
    if (t->im_start < 0 || t->im_end < 0 || t->eot < 0) die("this tokenizer has no ChatML special tokens");
    char line[8192];
    Ids ids = {0};
    push(&ids, t->eot);
    if (system) {  /* <|im_start|>system\n{system}<|im_end|>\n */
        char *s = xmalloc(strlen(system) + 8);
        sprintf(s, "system\n%s", system);
        push(&ids, t->im_start); add_text(t, &ids, s); push(&ids, t->im_end); add_text(t, &ids, "\n");
        free(s);
    }
    for (;;) {
        const char *msg = once;
        if (!once) {
            printf("> "); fflush(stdout);
            if (!fgets(line, sizeof line, stdin)) break;
            line[strcspn(line, "\n")] = 0;
            msg = line;
        }
        /* <|im_start|>user\n{msg}<|im_end|>\n<|im_start|>assistant\n (dentro.chat.template) */
        char *s = xmalloc(strlen(msg) + 8);
        sprintf(s, "user\n%s", msg);
        push(&ids, t->im_start); add_text(t, &ids, s); push(&ids, t->im_end);
        add_text(t, &ids, "\n"); push(&ids, t->im_start); add_text(t, &ids, "assistant\n");
        free(s);
        if (!feed(r, &ids)) { fprintf(stderr, "\nrun: the conversation is longer than the context window\n"); break; }
        int n_new;
        generate(r, t->im_end, t->eot, 1, &n_new);
        printf("\n");
        if (once) break;
        ids.n = 0;  /* the next turn starts by closing this answer: <|im_end|>\n */
        push(&ids, t->im_end); add_text(t, &ids, "\n");
    }
    free(ids.a);
}

static void usage(void) {
    fprintf(stderr,
            "usage: run model.bin [options]\n"
            "  -i <string>  prompt (generate), message (chat: one turn), text (encode, logits)\n"
            "  -m <mode>    generate (default) | chat | tokens | encode | logits\n"
            "  -t <float>   temperature, 0 = greedy (default 0.8)\n"
            "  -p <float>   top-p (default 0.9; 1 = off)\n"
            "  -s <int>     random seed (default: the time)\n"
            "  -n <int>     new tokens at most (default 256; clamped to the context window)\n"
            "  -y <string>  system prompt (chat)\n"
            "modes for tests: tokens prints the generated ids; encode prints the ids of -i, or of each\n"
            "NUL-terminated record on stdin, one line each; logits prints the next-token logits after\n"
            "<|endoftext|> + the ids of -i, one per line\n");
    exit(1);
}

int main(int argc, char **argv) {
    Run r = {0};
    const char *path = NULL, *input = NULL, *mode = "generate", *system = NULL;
    unsigned long long seed = 0;
    r.temperature = 0.8f; r.top_p = 0.9f; r.steps = 256;
    if (argc < 2) usage();
    path = argv[1];
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc || argv[i][0] != '-' || strlen(argv[i]) != 2) usage();
        switch (argv[i][1]) {
            case 'i': input = argv[i + 1]; break;
            case 'm': mode = argv[i + 1]; break;
            case 't': r.temperature = (float)atof(argv[i + 1]); break;
            case 'p': r.top_p = (float)atof(argv[i + 1]); break;
            case 's': seed = strtoull(argv[i + 1], NULL, 10); break;
            case 'n': r.steps = atoi(argv[i + 1]); break;
            case 'y': system = argv[i + 1]; break;
            default: usage();
        }
    }
    if (r.temperature < 0.0f || r.top_p <= 0.0f || r.top_p > 1.0f || r.steps < 0) usage();
    rng_state = seed ? seed : (unsigned long long)time(NULL);
    unsigned char *data = load(path, &r.c, &r.t, &r.w);
    Tokenizer *t = &r.t;

    if (strcmp(mode, "encode") == 0) {
        char *text = (char *)input;
        size_t len = input ? strlen(input) : 0, cap = 1 << 16;
        if (!input) {  /* all of stdin: records end with a NUL byte */
            text = xmalloc(cap);
            for (size_t k; (k = fread(text + len, 1, cap - len, stdin)) > 0;) {
                len += k;
                if (len == cap) { cap *= 2; text = realloc(text, cap); if (!text) die("out of memory"); }
            }
        }
        Ids ids = {0};
        for (size_t a = 0; a < len || (input && a == 0);) {
            size_t b = a;
            while (b < len && text[b] != '\0') b++;
            ids.n = 0;
            encode(t, text + a, (int)(b - a), &ids);
            for (int k = 0; k < ids.n; k++) printf(k ? " %d" : "%d", ids.a[k]);
            printf("\n");
            a = b + 1;
        }
        return 0;
    }

    alloc_state(&r.s, &r.c);
    r.probs = xmalloc((size_t)r.c.vocab_size * sizeof(ProbIndex));
    if (strcmp(mode, "chat") == 0) { chat(&r, system, input); return 0; }

    /* generate, tokens, logits: <|endoftext|> (a document starts) + the prompt, as dentro sample */
    Ids ids = {0};
    push(&ids, t->eot >= 0 ? t->eot : 0);
    if (input) add_text(t, &ids, input);
    if (ids.n >= r.c.seq_len) die("the prompt is longer than the context window");
    long t0 = now_ms();
    feed(&r, &ids);
    if (strcmp(mode, "logits") == 0) {
        for (int k = 0; k < r.c.vocab_size; k++) printf("%.9g\n", r.s.logits[k]);
        return 0;
    }
    if (r.steps > r.c.seq_len - ids.n) r.steps = r.c.seq_len - ids.n;
    int tokens = strcmp(mode, "tokens") == 0, n_new;
    if (!tokens && strcmp(mode, "generate") != 0) usage();
    if (!tokens && input) printf("%s", input);
    long t1 = now_ms();
    generate(&r, t->eot, t->eot, tokens ? 2 : 1, &n_new);
    long t2 = now_ms();
    printf("\n");
    fprintf(stderr, "prompt: %d tokens in %ld ms; generated: %d tokens, %.1f tokens/s\n", ids.n, t1 - t0,
            n_new, n_new > 1 ? (n_new - 1) * 1000.0 / (t2 - t1 > 0 ? t2 - t1 : 1) : 0.0);
    free(data);
    return 0;
}

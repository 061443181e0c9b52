/*
 * sampler.c — greedy and seeded temperature sampling.
 *
 * Order of operations, as llama.cpp's default chain: repetition penalty on
 * the raw logits, then top-k, top-p (nucleus) and min-p filters on the
 * probabilities, then temperature, then a draw. With temp 0 the sampler is
 * a plain argmax of the raw logits (ties: the lowest id): no penalty and
 * no randomness.
 *
 * Not for: anything that needs exact probabilities of given tokens.
 */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct candidate {
    int32_t id;
    float logit;
    float p;
} candidate;

struct llp_sampler {
    llp_sampling cfg;
    int n_vocab;
    uint64_t rng;
    int32_t *history;       /* ring of the last repeat_last_n tokens */
    int n_history, history_pos;
    candidate *cand;        /* (n_vocab) scratch */
};

llp_sampling llp_sampling_default(void)
{
    llp_sampling s = { 0.8f, 40, 0.95f, 0.05f, 1.1f, 64, 42 };
    return s;
}

llp_sampler *llp_sampler_new(const llp_sampling *cfg, int n_vocab)
{
    llp_sampler *s = llp_calloc(1, sizeof *s);
    s->cfg = *cfg;
    if (s->cfg.repeat_last_n < 0) s->cfg.repeat_last_n = 0;
    s->n_vocab = n_vocab;
    s->history = llp_malloc(sizeof(int32_t) * (size_t)(s->cfg.repeat_last_n + 1));
    s->cand = llp_malloc(sizeof(candidate) * (size_t)n_vocab);
    llp_sampler_reset(s);
    return s;
}

void llp_sampler_free(llp_sampler *s)
{
    if (!s) return;
    free(s->history);
    free(s->cand);
    free(s);
}

void llp_sampler_reset(llp_sampler *s)
{
    /* splitmix64 of the seed, so nearby seeds give unrelated streams */
    uint64_t z = s->cfg.seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    s->rng = (z ^ (z >> 31)) | 1;
    s->n_history = 0;
    s->history_pos = 0;
}

void llp_sampler_reset_seed(llp_sampler *s, uint64_t seed)
{
    s->cfg.seed = seed;
    llp_sampler_reset(s);
}

void llp_sampler_accept(llp_sampler *s, int32_t token)
{
    if (s->cfg.repeat_last_n == 0) return;
    s->history[s->history_pos] = token;
    s->history_pos = (s->history_pos + 1) % s->cfg.repeat_last_n;
    if (s->n_history < s->cfg.repeat_last_n) s->n_history++;
}

static double rng_unit(llp_sampler *s)      /* uniform in [0, 1) */
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) * (1.0 / 9007199254740992.0);
}

static int32_t argmax(const float *logits, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

static int by_logit_desc(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id - y->id;
}

static void apply_repeat_penalty(llp_sampler *s, float *logits)
{
    float pen = s->cfg.repeat_penalty;
    if (pen == 1.0f || s->n_history == 0) return;
    /* each distinct token of the window is penalised once */
    for (int i = 0; i < s->n_history; i++) {
        int32_t t = s->history[i];
        bool seen = false;
        for (int j = 0; j < i; j++)
            if (s->history[j] == t) { seen = true; break; }
        if (seen || t < 0 || t >= s->n_vocab) continue;
        logits[t] = logits[t] > 0 ? logits[t] / pen : logits[t] * pen;
    }
}

/* Softmax over the first n candidates (sorted by logit), at temperature t. */
static void candidate_softmax(candidate *c, int n, float t)
{
    double sum = 0;
    for (int i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - c[0].logit) / t);
        sum += c[i].p;
    }
    for (int i = 0; i < n; i++) c[i].p = (float)(c[i].p / sum);
}

int32_t llp_sampler_sample(llp_sampler *s, float *logits)
{
    /* greedy is the plain argmax of the model's logits (what reference
     * implementations compare against): no penalty */
    if (s->cfg.temp <= 0) return argmax(logits, s->n_vocab);
    apply_repeat_penalty(s, logits);

    int n = s->n_vocab;
    for (int i = 0; i < n; i++) {
        s->cand[i].id = i;
        s->cand[i].logit = logits[i];
    }
    candidate *c = s->cand;
    if (s->cfg.top_k > 0 && s->cfg.top_k < n) {
        /* partial selection would be faster; a full sort of 32000 floats per
         * token costs well under a millisecond next to the forward pass */
        qsort(c, (size_t)n, sizeof *c, by_logit_desc);
        n = s->cfg.top_k;
    } else {
        qsort(c, (size_t)n, sizeof *c, by_logit_desc);
    }
    candidate_softmax(c, n, 1.0f);
    if (s->cfg.top_p < 1.0f) {
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += c[i].p;
            if (cum >= s->cfg.top_p) { n = i + 1; break; }
        }
    }
    if (s->cfg.min_p > 0) {
        float floor = c[0].p * s->cfg.min_p;
        int keep = 1;
        while (keep < n && c[keep].p >= floor) keep++;
        n = keep;
    }
    candidate_softmax(c, n, s->cfg.temp);
    double r = rng_unit(s), cum = 0;
    for (int i = 0; i < n; i++) {
        cum += c[i].p;
        if (r < cum) return c[i].id;
    }
    return c[n - 1].id;
}

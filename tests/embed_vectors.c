/*
 * embed_vectors.c — our embeddings against llama.cpp's: for every .json
 * file in fixtures/vectors/embeddings/, embed its texts with the model,
 * pooling, normalization and BOS rule the file names, and require cosine
 * similarity >= 0.9999 with the reference for f32 models and >= 0.999 for
 * quantized ones. Each text is embedded alone and all texts together (one
 * forward call, several sequences), and both must pass.
 *
 * Not for: self-contained embedding behaviour on synthetic models
 * (tests/embed_synth.c) or the command line (tests/cli_embed.t).
 */
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "engine.h"
#include "tap.h"

static bool is_f32_model(const char *name) { return strstr(name, "-f32") != NULL; }

static void check_file(const char *dir, const char *file)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!ok(root != NULL, "%s: parses", file)) {
        diag("%s", jerr.text);
        return;
    }
    const char *model = json_string_value(json_object_get(root, "model"));
    json_t *texts = json_object_get(root, "texts");
    json_t *refs = json_object_get(root, "embeddings");
    if (!ok(model && json_is_array(texts) && json_is_array(refs) &&
                json_array_size(texts) == json_array_size(refs),
            "%s: has model, texts and embeddings", file)) {
        json_decref(root);
        return;
    }
    llp_embed_params p = { .add_bos = -1 };
    llp_err err;
    const char *pooling = json_string_value(json_object_get(root, "pooling"));
    const char *norm = json_string_value(json_object_get(root, "normalize"));
    json_t *bos = json_object_get(root, "bos");
    ok((!pooling || llp_pooling_parse(pooling, &p.pooling, &err) == 0) &&
           (!norm || llp_embed_norm_parse(norm, &p.normalize, &err) == 0),
       "%s: pooling %s, normalize %s", file, pooling ? pooling : "(default)",
       norm ? norm : "(default)");
    if (json_is_boolean(bos)) p.add_bos = json_is_true(bos) ? 1 : 0;

    char mpath[8300];
    snprintf(mpath, sizeof mpath, "%s/../../models/%s", dir, model);
    llp_engine_opts eo = { .model_path = mpath, .n_threads = 2 };
    llp_engine *eng = llp_engine_open(&eo, &err);
    if (!ok(eng != NULL, "%s: opens %s", file, model)) {
        diag("%s", err.msg);
        json_decref(root);
        return;
    }
    llp_context *ctx = llp_embed_context_new(eng->model, 0, 2, LLP_KV_F32, &err);
    llp_embedder *e = llp_embedder_new(ctx, eng->tok, &p);
    double floor = is_f32_model(model) ? 0.9999 : 0.999;
    int n = (int)json_array_size(texts);
    const char **tv = calloc((size_t)n, sizeof *tv);
    size_t *lv = calloc((size_t)n, sizeof *lv);
    for (int i = 0; i < n; i++) {
        tv[i] = json_string_value(json_array_get(texts, (size_t)i));
        lv[i] = tv[i] ? strlen(tv[i]) : 0;
    }
    llp_embed_result *together = calloc((size_t)n, sizeof *together);
    int rc = llp_embed_texts(e, tv, lv, n, together, &err);
    ok(rc == 0, "%s: %d texts in one call", file, n);
    for (int i = 0; i < n && rc == 0; i++) {
        json_t *ref = json_array_get(refs, (size_t)i);
        int dim = llp_embedder_dim(e);
        if (!ok((int)json_array_size(ref) == dim, "%s[%d]: dimension %d", file, i, dim)) continue;
        float *rv = malloc(sizeof(float) * (size_t)dim);
        for (int d = 0; d < dim; d++)
            rv[d] = (float)json_number_value(json_array_get(ref, (size_t)d));
        llp_embed_result alone = { 0 };
        int rc1 = llp_embed_texts(e, &tv[i], &lv[i], 1, &alone, &err);
        float c1 = rc1 == 0 && alone.vec ? llp_cosine(alone.vec, rv, dim) : 0;
        float c2 = together[i].vec ? llp_cosine(together[i].vec, rv, dim) : 0;
        diag("%s[%d]: cosine alone %.7f, batched %.7f (floor %.4f)", file, i, c1, c2, floor);
        ok(c1 >= floor, "%s[%d]: alone, cosine %.7f >= %.4f", file, i, c1, floor);
        ok(c2 >= floor, "%s[%d]: batched, cosine %.7f >= %.4f", file, i, c2, floor);
        llp_embed_result_free(&alone);
        llp_embed_result_free(&together[i]);
        free(rv);
    }
    free(together);
    free(tv);
    free(lv);
    llp_embedder_free(e);
    llp_context_free(ctx);
    llp_engine_free(eng);
    json_decref(root);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int json_only(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

int main(void)
{
    require_fixtures("vectors/embeddings");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fixture_path("vectors/embeddings"));
    struct dirent **names;
    int n = scandir(dir, &names, json_only, by_name);
    ok(n > 0, "reference embeddings found in %s", dir);
    for (int i = 0; i < n; i++) {
        check_file(dir, names[i]->d_name);
        free(names[i]);
    }
    if (n > 0) free(names);
    return done_testing();
}

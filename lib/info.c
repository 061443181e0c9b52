/*
 * info.c — gather and print what `llp info` reports about a GGUF model
 * (see info.h for the fields).
 *
 * Not for: validating that a model can run (model.c refuses missing
 * tensors and wrong shapes at load) or the tokenizer's rules (tokenizer.c);
 * this reads keys and the tensor table only.
 */
#include "info.h"
#include "lora.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "quantize.h"

/* A JSON string from bytes that may not be UTF-8: invalid input has its
 * bytes above 0x7F replaced by '?'. */
static json_t *string_n(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j) return j;
    char *copy = llp_malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char)s[i] >= 0x80 || s[i] == 0 ? '?' : s[i];
    j = json_stringn(copy, len);
    free(copy);
    return j ? j : json_null();
}

static json_t *key_string(const gguf_file *f, const char *key)
{
    const char *s;
    size_t len;
    return gguf_get_str(f, key, &s, &len) == 0 ? string_n(s, len) : json_null();
}

/* Integer key "ARCH.suffix", or null (also when absent). */
static json_t *arch_int(const gguf_file *f, const char *arch, const char *suffix, int64_t *out)
{
    char key[160];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (gguf_get_int(f, key, &v) != 0) return json_null();
    if (out) *out = v;
    return json_integer((json_int_t)v);
}

static json_t *special_token(const gguf_file *f, const char *key, int64_t dflt, uint64_t n_vocab)
{
    int64_t id = dflt;
    size_t len;
    gguf_get_int(f, key, &id);
    if (id < 0 || (uint64_t)id >= n_vocab) return json_null();
    const char *piece = gguf_arr_str(f, "tokenizer.ggml.tokens", (uint64_t)id, &len);
    json_t *t = json_object();
    json_object_set_new(t, "id", json_integer((json_int_t)id));
    json_object_set_new(t, "piece", piece ? string_n(piece, len) : json_null());
    return t;
}

static json_t *tokenizer_summary(const gguf_file *f)
{
    uint32_t elem_type;
    uint64_t n_vocab;
    bool flag;
    if (gguf_get_arr(f, "tokenizer.ggml.tokens", &elem_type, &n_vocab) != 0 ||
        elem_type != GGUF_STRING)
        return json_null();
    json_t *t = json_object();
    json_object_set_new(t, "model", key_string(f, "tokenizer.ggml.model"));
    json_object_set_new(t, "n_vocab", json_integer((json_int_t)n_vocab));
    json_object_set_new(t, "bos", special_token(f, "tokenizer.ggml.bos_token_id", 1, n_vocab));
    json_object_set_new(t, "eos", special_token(f, "tokenizer.ggml.eos_token_id", 2, n_vocab));
    json_object_set_new(t, "add_bos", json_boolean(
        gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &flag) == 0 ? flag : true));
    json_object_set_new(t, "add_eos", json_boolean(
        gguf_get_bool(f, "tokenizer.ggml.add_eos_token", &flag) == 0 ? flag : false));
    return t;
}

static int compare_weights(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "bytes"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "bytes"));
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Tensors, values and bytes per weight type, largest first. */
static json_t *weights_by_type(const gguf_file *f, uint64_t *n_params, uint64_t *n_bytes)
{
    uint64_t count[LLP_TYPE_COUNT] = { 0 }, params[LLP_TYPE_COUNT] = { 0 },
             bytes[LLP_TYPE_COUNT] = { 0 };
    *n_params = *n_bytes = 0;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        uint64_t elements = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) elements *= (uint64_t)t->ne[d];
        if (t->type >= LLP_TYPE_COUNT) continue;       /* gguf_open refuses these */
        count[t->type]++;
        params[t->type] += elements;
        bytes[t->type] += t->n_bytes;
        *n_params += elements;
        *n_bytes += t->n_bytes;
    }
    json_t *rows[LLP_TYPE_COUNT];
    size_t n = 0;
    for (uint32_t type = 0; type < LLP_TYPE_COUNT; type++) {
        if (!count[type]) continue;
        json_t *w = json_object();
        json_object_set_new(w, "type", json_string(llp_type_name(type)));
        json_object_set_new(w, "n_tensors", json_integer((json_int_t)count[type]));
        json_object_set_new(w, "n_params", json_integer((json_int_t)params[type]));
        json_object_set_new(w, "bytes", json_integer((json_int_t)bytes[type]));
        rows[n++] = w;
    }
    qsort(rows, n, sizeof rows[0], compare_weights);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(list, rows[i]);
    return list;
}

static const char *str_or(const json_t *v, const char *dflt);
static void human_bytes(double n, char *buf, size_t size);
static void human_count(double n, char *buf, size_t size);

/* An adapter file (general.type = adapter): what lora.h reads of it. */
static json_t *adapter_info(const char *path, gguf_file *f, llp_err *err)
{
    json_t *info = json_object();
    json_object_set_new(info, "path", json_string(path));
    json_object_set_new(info, "file_bytes", json_integer((json_int_t)gguf_file_size(f)));
    json_object_set_new(info, "gguf_version", json_integer(gguf_version(f)));
    json_object_set_new(info, "n_kv", json_integer((json_int_t)gguf_n_kv(f)));
    gguf_close(f);
    llp_lora *a = llp_lora_load(path, err);
    if (!a) {
        json_decref(info);
        return NULL;
    }
    json_t *m = llp_lora_meta(a);
    json_object_update(info, m);
    json_decref(m);
    json_object_set_new(info, "adapter", json_true());
    json_t *tensors = json_array();
    for (int i = 0; i < a->n; i++) {
        json_t *t = json_object();
        json_object_set_new(t, "name", json_string(a->t[i].name));
        json_object_set_new(t, "n_in", json_integer(a->t[i].n_in));
        json_object_set_new(t, "n_out", json_integer(a->t[i].n_out));
        json_object_set_new(t, "rank", json_integer(a->t[i].rank));
        json_array_append_new(tensors, t);
    }
    json_object_set_new(info, "tensors", tensors);
    llp_lora_free(a);
    return info;
}

static void adapter_print(const json_t *info, FILE *out)
{
    char s1[32];
    human_bytes((double)json_integer_value(json_object_get(info, "file_bytes")), s1, sizeof s1);
    fprintf(out, "file:            %s (%s)\n", str_or(json_object_get(info, "path"), "?"), s1);
    fprintf(out, "type:            LoRA adapter (llama)\n");
    fprintf(out, "rank:            %" JSON_INTEGER_FORMAT "\n",
            json_integer_value(json_object_get(info, "rank")));
    fprintf(out, "alpha:           %g (scale at use: SCALE x alpha / rank)\n",
            json_real_value(json_object_get(info, "alpha")));
    fprintf(out, "tensor type:     %s\n", str_or(json_object_get(info, "tensor_type"), "?"));
    fprintf(out, "adapted:         %" JSON_INTEGER_FORMAT " matrices:",
            json_integer_value(json_object_get(info, "n_tensors")));
    const json_t *tg = json_object_get(info, "targets");
    for (size_t i = 0; i < json_array_size(tg); i++)
        fprintf(out, "%s%s", i ? ", " : " ", json_string_value(json_array_get(tg, i)));
    fputc('\n', out);
    human_count((double)json_integer_value(json_object_get(info, "n_params")), s1, sizeof s1);
    fprintf(out, "parameters:      %s (%" JSON_INTEGER_FORMAT ")\n", s1,
            json_integer_value(json_object_get(info, "n_params")));
    fprintf(out, "fingerprint:     %s\n", str_or(json_object_get(info, "fingerprint"), "?"));
}

json_t *llp_model_info(const char *path, llp_err *err)
{
    gguf_file *f = gguf_open(path, err);
    if (!f) return NULL;
    const char *gtype = NULL;
    if (gguf_get_str(f, "general.type", &gtype, NULL) == 0 && strcmp(gtype, "adapter") == 0)
        return adapter_info(path, f, err);
    json_t *info = json_object();
    const char *arch = NULL;
    int64_t v, dim = 0, n_heads = 0, n_heads_kv = 0;
    double base = 10000.0, eps;

    json_object_set_new(info, "path", json_string(path));
    json_object_set_new(info, "file_bytes", json_integer((json_int_t)gguf_file_size(f)));
    json_object_set_new(info, "gguf_version", json_integer(gguf_version(f)));
    json_object_set_new(info, "alignment", json_integer(gguf_alignment(f)));
    json_object_set_new(info, "n_kv", json_integer((json_int_t)gguf_n_kv(f)));
    json_object_set_new(info, "name", key_string(f, "general.name"));
    gguf_get_str(f, "general.architecture", &arch, NULL);
    json_object_set_new(info, "architecture", arch ? json_string(arch) : json_null());
    if (gguf_get_int(f, "general.file_type", &v) == 0 && v >= 0 && v <= UINT32_MAX) {
        const char *name = llp_ftype_name((uint32_t)v);
        json_t *ft = json_object();
        json_object_set_new(ft, "id", json_integer((json_int_t)v));
        json_object_set_new(ft, "name", json_string(name ? name : "unknown"));
        json_object_set_new(info, "file_type", ft);
    } else {
        json_object_set_new(info, "file_type", json_null());
    }

    /* shape */
    const char *a = arch ? arch : "llama";
    json_object_set_new(info, "dim", arch_int(f, a, "embedding_length", &dim));
    json_object_set_new(info, "n_layers", arch_int(f, a, "block_count", NULL));
    json_object_set_new(info, "n_heads", arch_int(f, a, "attention.head_count", &n_heads));
    json_t *kv = arch_int(f, a, "attention.head_count_kv", &n_heads_kv);
    if (json_is_null(kv) && n_heads > 0) {
        json_decref(kv);
        kv = json_integer((json_int_t)n_heads);
    }
    json_object_set_new(info, "n_heads_kv", kv);
    json_object_set_new(info, "head_dim", dim > 0 && n_heads > 0
                        ? json_integer((json_int_t)(dim / n_heads)) : json_null());
    json_object_set_new(info, "ffn_dim", arch_int(f, a, "feed_forward_length", NULL));
    const gguf_tensor *embd = gguf_find_tensor(f, "token_embd.weight");
    uint32_t elem_type;
    uint64_t n_tokens;
    if (embd && embd->n_dims >= 2)
        json_object_set_new(info, "n_vocab", json_integer((json_int_t)embd->ne[1]));
    else if (gguf_get_arr(f, "tokenizer.ggml.tokens", &elem_type, &n_tokens) == 0)
        json_object_set_new(info, "n_vocab", json_integer((json_int_t)n_tokens));
    else
        json_object_set_new(info, "n_vocab", json_null());
    json_t *rope_dim = arch_int(f, a, "rope.dimension_count", NULL);
    if (json_is_null(rope_dim) && dim > 0 && n_heads > 0) {
        json_decref(rope_dim);
        rope_dim = json_integer((json_int_t)(dim / n_heads));
    }
    json_object_set_new(info, "rope_dim", rope_dim);

    /* weights */
    uint64_t n_params, n_bytes;
    json_t *weights = weights_by_type(f, &n_params, &n_bytes);
    json_object_set_new(info, "n_params", json_integer((json_int_t)n_params));
    json_object_set_new(info, "context_length", arch_int(f, a, "context_length", NULL));
    char key[160];
    snprintf(key, sizeof key, "%s.rope.freq_base", a);
    gguf_get_float(f, key, &base);
    json_object_set_new(info, "rope_base", json_real(base));
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
    json_object_set_new(info, "rms_eps",
                        gguf_get_float(f, key, &eps) == 0 ? json_real(eps) : json_null());
    json_object_set_new(info, "n_tensors", json_integer((json_int_t)gguf_n_tensors(f)));
    json_object_set_new(info, "tensor_bytes", json_integer((json_int_t)n_bytes));
    json_object_set_new(info, "bits_per_weight",
                        n_params ? json_real(8.0 * (double)n_bytes / (double)n_params)
                                 : json_null());
    json_object_set_new(info, "weights", weights);
    json_object_set_new(info, "output_tied", json_boolean(
        gguf_n_tensors(f) > 0 && !gguf_find_tensor(f, "output.weight")));
    json_object_set_new(info, "tokenizer", tokenizer_summary(f));
    json_object_set_new(info, "chat_template",
                        json_boolean(gguf_find_key(f, "tokenizer.chat_template") >= 0));
    gguf_close(f);
    return info;
}

/* ---- printing --------------------------------------------------------- */

static const char *str_or(const json_t *j, const char *dflt)
{
    return json_is_string(j) ? json_string_value(j) : dflt;
}

/* An integer field as text, "?" when null. */
static const char *int_text(const json_t *info, const char *key, char *buf, size_t size)
{
    const json_t *j = json_object_get(info, key);
    if (!json_is_integer(j)) return "?";
    snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
    return buf;
}

static void human_bytes(double b, char *buf, size_t size)
{
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.2f %s" : "%.0f %s", b, units[u]);
}

static void human_count(double n, char *buf, size_t size)
{
    if (n >= 1e9) snprintf(buf, size, "%.2f B", n / 1e9);
    else if (n >= 1e6) snprintf(buf, size, "%.2f M", n / 1e6);
    else if (n >= 1e3) snprintf(buf, size, "%.2f K", n / 1e3);
    else snprintf(buf, size, "%.0f", n);
}

/* " 1 '<s>'" style for a special token, or " none". */
static void print_special(FILE *out, const char *label, const json_t *t)
{
    if (!json_is_object(t)) {
        fprintf(out, ", %s none", label);
        return;
    }
    fprintf(out, ", %s %" JSON_INTEGER_FORMAT " '%s'", label,
            json_integer_value(json_object_get(t, "id")),
            str_or(json_object_get(t, "piece"), "?"));
}

void llp_model_info_print(const json_t *info, FILE *out)
{
    if (json_is_true(json_object_get(info, "adapter"))) {
        adapter_print(info, out);
        return;
    }
    char a[32], b[32], c[32], d[32], e[32], g[32], h[32], s1[32], s2[32];
    const json_t *ft = json_object_get(info, "file_type");

    human_bytes((double)json_integer_value(json_object_get(info, "file_bytes")), s1, sizeof s1);
    fprintf(out, "file:            %s (%s)\n", str_or(json_object_get(info, "path"), "?"), s1);
    fprintf(out, "gguf:            version %s, alignment %s, %s keys\n",
            int_text(info, "gguf_version", a, sizeof a), int_text(info, "alignment", b, sizeof b),
            int_text(info, "n_kv", c, sizeof c));
    if (json_is_string(json_object_get(info, "name")))
        fprintf(out, "name:            %s\n", json_string_value(json_object_get(info, "name")));
    fprintf(out, "architecture:    %s\n", str_or(json_object_get(info, "architecture"), "?"));
    if (json_is_object(ft))
        fprintf(out, "file type:       %s (%" JSON_INTEGER_FORMAT ")\n",
                str_or(json_object_get(ft, "name"), "?"),
                json_integer_value(json_object_get(ft, "id")));
    else
        fprintf(out, "file type:       unknown (no general.file_type)\n");
    fprintf(out, "shape:           dim %s, layers %s, heads %s, kv heads %s, head dim %s, "
            "ffn %s, vocab %s\n",
            int_text(info, "dim", a, sizeof a), int_text(info, "n_layers", b, sizeof b),
            int_text(info, "n_heads", c, sizeof c), int_text(info, "n_heads_kv", d, sizeof d),
            int_text(info, "head_dim", e, sizeof e), int_text(info, "ffn_dim", g, sizeof g),
            int_text(info, "n_vocab", h, sizeof h));
    double n_params = (double)json_integer_value(json_object_get(info, "n_params"));
    human_count(n_params, s1, sizeof s1);
    fprintf(out, "parameters:      %s (%s)\n", s1, int_text(info, "n_params", a, sizeof a));
    fprintf(out, "context length:  %s\n", int_text(info, "context_length", a, sizeof a));
    fprintf(out, "rope base:       %g\n", json_real_value(json_object_get(info, "rope_base")));
    human_bytes((double)json_integer_value(json_object_get(info, "tensor_bytes")), s1, sizeof s1);
    fprintf(out, "tensors:         %s, %s of weights", int_text(info, "n_tensors", a, sizeof a),
            s1);
    if (json_is_real(json_object_get(info, "bits_per_weight")))
        fprintf(out, ", %.2f bits per weight",
                json_real_value(json_object_get(info, "bits_per_weight")));
    fprintf(out, "%s\n", json_is_true(json_object_get(info, "output_tied"))
                             ? ", output tied to token_embd" : "");
    size_t i;
    const json_t *w;
    json_array_foreach(json_object_get(info, "weights"), i, w) {
        human_bytes((double)json_integer_value(json_object_get(w, "bytes")), s1, sizeof s1);
        human_count((double)json_integer_value(json_object_get(w, "n_params")), s2, sizeof s2);
        fprintf(out, "  %-6s %4" JSON_INTEGER_FORMAT " tensors %12s  %10s values\n",
                str_or(json_object_get(w, "type"), "?"),
                json_integer_value(json_object_get(w, "n_tensors")), s1, s2);
    }
    const json_t *tok = json_object_get(info, "tokenizer");
    if (json_is_object(tok)) {
        fprintf(out, "tokenizer:       %s, %" JSON_INTEGER_FORMAT " tokens",
                str_or(json_object_get(tok, "model"), "?"),
                json_integer_value(json_object_get(tok, "n_vocab")));
        print_special(out, "BOS", json_object_get(tok, "bos"));
        print_special(out, "EOS", json_object_get(tok, "eos"));
        fprintf(out, "%s\n", json_is_true(json_object_get(tok, "add_bos")) ? ", adds BOS" : "");
    } else {
        fprintf(out, "tokenizer:       none\n");
    }
    fprintf(out, "chat template:   %s\n",
            json_is_true(json_object_get(info, "chat_template")) ? "yes" : "no");
}

/*
 * convert_lora.c — a PEFT LoRA adapter directory to a GGUF adapter in
 * llama.cpp's layout, checked against its base model (contract in
 * convert.h).
 *
 * Not for: loading adapters or applying them (lora.c), base models
 * (convert.c).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "convert_internal.h"
#include "gguf.h"
#include "quant.h"

/* PEFT module names and their GGUF base tensors (per layer). */
static const struct { const char *module, *hf, *gguf; } modules[] = {
    { "q_proj", "self_attn.q_proj", "attn_q" },   { "k_proj", "self_attn.k_proj", "attn_k" },
    { "v_proj", "self_attn.v_proj", "attn_v" },   { "o_proj", "self_attn.o_proj", "attn_output" },
    { "gate_proj", "mlp.gate_proj", "ffn_gate" }, { "up_proj", "mlp.up_proj", "ffn_up" },
    { "down_proj", "mlp.down_proj", "ffn_down" },
};
#define N_MODULES (sizeof modules / sizeof modules[0])

typedef struct lora_config {
    int r;
    double alpha;           /* as written to adapter.lora.alpha */
    bool targets[N_MODULES];
    bool target_lm_head;
} lora_config;

static int read_adapter_config(const char *path, lora_config *lc, llp_err *err)
{
    json_error_t jerr;
    memset(lc, 0, sizeof *lc);
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (strstr(jerr.text, "unable to open"))
            return llp_err_set(err, "%s: cannot open (a PEFT adapter directory has adapter_config.json)", path);
        return llp_err_set(err, "%s: not valid JSON: %s (line %d)", path, jerr.text, jerr.line);
    }
    int rc = -1;
    json_t *r = json_object_get(root, "r"), *alpha = json_object_get(root, "lora_alpha"),
           *tm = json_object_get(root, "target_modules"), *pt = json_object_get(root, "peft_type");
    if (pt && !(json_is_string(pt) && strcmp(json_string_value(pt), "LORA") == 0)) {
        llp_err_set(err, "%s: peft_type: '%.32s' is not supported (LORA only)", path,
                    json_is_string(pt) ? json_string_value(pt) : "(not a string)");
        goto done;
    }
    if (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > 65536) {
        llp_err_set(err, "%s: r: missing or not a rank between 1 and 65536", path);
        goto done;
    }
    lc->r = (int)json_integer_value(r);
    if (!json_is_number(alpha) || !(json_number_value(alpha) > 0)) {
        llp_err_set(err, "%s: lora_alpha: missing or not a positive number", path);
        goto done;
    }
    lc->alpha = json_number_value(alpha);
    /* rsLoRA scales by alpha / sqrt(r); the GGUF format scales by alpha / r */
    if (json_is_true(json_object_get(root, "use_rslora"))) lc->alpha *= sqrt((double)lc->r);
    static const char *refused[] = { "fan_in_fan_out", "use_dora" };
    for (size_t i = 0; i < 2; i++)
        if (json_is_true(json_object_get(root, refused[i]))) {
            llp_err_set(err, "%s: %s: true is not supported", path, refused[i]);
            goto done;
        }
    json_t *bias = json_object_get(root, "bias");
    if (bias && !(json_is_string(bias) && strcmp(json_string_value(bias), "none") == 0)) {
        llp_err_set(err, "%s: bias: only \"none\" is supported (Llama has no biases)", path);
        goto done;
    }
    json_t *ap = json_object_get(root, "alpha_pattern"), *mts = json_object_get(root, "modules_to_save");
    if (json_is_object(ap) && json_object_size(ap) > 0) {
        llp_err_set(err, "%s: alpha_pattern: per-module alphas are not supported (one adapter.lora.alpha)", path);
        goto done;
    }
    if (mts && !json_is_null(mts) && !(json_is_array(mts) && json_array_size(mts) == 0)) {
        llp_err_set(err, "%s: modules_to_save: fully trained modules are not supported (LoRA pairs only)", path);
        goto done;
    }
    json_t *list = tm;
    if (json_is_string(tm)) {
        list = json_array();
        json_array_append(list, tm);
    }
    if (!json_is_array(list) || json_array_size(list) == 0) {
        if (list != tm) json_decref(list);
        llp_err_set(err, "%s: target_modules: missing or empty", path);
        goto done;
    }
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        const char *s = json_is_string(m) ? json_string_value(m) : "";
        bool found = false;
        for (size_t k = 0; k < N_MODULES; k++)
            if (strcmp(s, modules[k].module) == 0) found = lc->targets[k] = true;
        if (strcmp(s, "lm_head") == 0) found = lc->target_lm_head = true;
        if (!found) {
            llp_err_set(err, "%s: target_modules: '%.32s' is not a Llama linear layer (q_proj, k_proj, "
                        "v_proj, o_proj, gate_proj, up_proj, down_proj, lm_head)", path, s);
            if (list != tm) json_decref(list);
            goto done;
        }
    }
    if (list != tm) json_decref(list);
    rc = 0;
done:
    json_decref(root);
    return rc;
}

/* Map a PEFT tensor name to its GGUF base tensor and module index
 * (N_MODULES for lm_head); *is_b for lora_B. -1 if it is not a LoRA name. */
static int parse_name(const char *name, char *gguf, size_t size, int *module, bool *is_b)
{
    static const char prefix[] = "base_model.model.";
    static const char sa[] = ".lora_A.weight", sb[] = ".lora_B.weight";
    size_t len = strlen(name), sl = sizeof sa - 1;
    if (strncmp(name, prefix, sizeof prefix - 1) != 0 || len < sizeof prefix - 1 + sl) return -1;
    if (strcmp(name + len - sl, sa) == 0) *is_b = false;
    else if (strcmp(name + len - sl, sb) == 0) *is_b = true;
    else return -1;
    char hf[256];
    size_t hl = len - sl - (sizeof prefix - 1);
    if (hl >= sizeof hf) return -1;
    memcpy(hf, name + sizeof prefix - 1, hl);
    hf[hl] = 0;
    if (strcmp(hf, "lm_head") == 0) {
        *module = N_MODULES;
        snprintf(gguf, size, "output.weight");
        return 0;
    }
    int layer, consumed = 0;
    if (sscanf(hf, "model.layers.%d.%n", &layer, &consumed) != 1 || consumed == 0 || layer < 0) return -1;
    for (size_t k = 0; k < N_MODULES; k++)
        if (strcmp(hf + consumed, modules[k].hf) == 0) {
            *module = (int)k;
            snprintf(gguf, size, "blk.%d.%s.weight", layer, modules[k].gguf);
            return 0;
        }
    return -1;
}

int llp_convert_lora(const char *dir, const char *base_path, const char *out,
                     const llp_convert_opts *o, llp_err *err)
{
    lora_config lc;
    char *cfg_path = llp_path_join(dir, "adapter_config.json"), *st_path_ = llp_path_join(dir, "adapter_model.safetensors");
    st_file *sf = NULL;
    gguf_file *base = NULL;
    cv_tensor *t = NULL;
    int rc = -1;

    if (read_adapter_config(cfg_path, &lc, err)) goto done;
    if (!(sf = st_open(st_path_, err))) goto done;
    if (!(base = gguf_open(base_path, err))) goto done;
    const char *arch;
    if (gguf_get_str(base, "general.architecture", &arch, NULL) != 0 || strcmp(arch, "llama") != 0) {
        llp_err_set(err, "%s: not a llama model (general.architecture)", base_path);
        goto done;
    }
    int64_t n_head, dim;
    if (gguf_get_int(base, "llama.attention.head_count", &n_head) != 0 || n_head <= 0 ||
        gguf_get_int(base, "llama.embedding_length", &dim) != 0 || dim % n_head != 0) {
        llp_err_set(err, "%s: llama.attention.head_count / llama.embedding_length missing or "
                    "inconsistent", base_path);
        goto done;
    }
    int64_t head_dim = dim / n_head;

    size_t n = st_n_tensors(sf);
    t = llp_calloc(n ? n : 1, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        const st_tensor *s = st_tensor_at(sf, i);
        char gguf[96], got[128];
        int module;
        bool is_b;
        if (parse_name(s->name, gguf, sizeof gguf, &module, &is_b)) {
            llp_err_set(err, "%s: tensor '%.96s' is not a LoRA pair of a Llama linear layer "
                        "(base_model.model.model.layers.N.<module>.lora_A/lora_B.weight)", st_path_, s->name);
            goto done;
        }
        bool targeted = module == (int)N_MODULES ? lc.target_lm_head : lc.targets[module];
        if (!targeted) {
            llp_err_set(err, "%s: tensor '%.96s' belongs to a module target_modules of %s does not "
                        "name", st_path_, s->name, cfg_path);
            goto done;
        }
        const gguf_tensor *bt = gguf_find_tensor(base, gguf);
        if (!bt || bt->n_dims != 2) {
            llp_err_set(err, "%s: tensor '%.96s' adapts '%s', which the base model %s does not have",
                        st_path_, s->name, gguf, base_path);
            goto done;
        }
        int64_t n_in = bt->ne[0], n_out = bt->ne[1];
        /* lora_A [rank, n_in], lora_B [n_out, rank] */
        bool shape_ok = s->n_dims == 2 && (is_b ? s->shape[0] == n_out : s->shape[1] == n_in);
        if (!shape_ok) {
            if (is_b)
                llp_err_set(err, "%s: tensor '%.96s' has shape %s, but the base tensor '%s' (ne [%lld, %lld]) "
                            "needs [%lld, rank]", st_path_, s->name, cv_shape(s, got, sizeof got), gguf,
                            (long long)n_in, (long long)n_out, (long long)n_out);
            else
                llp_err_set(err, "%s: tensor '%.96s' has shape %s, but the base tensor '%s' (ne [%lld, %lld]) "
                            "needs [rank, %lld]", st_path_, s->name, cv_shape(s, got, sizeof got), gguf,
                            (long long)n_in, (long long)n_out, (long long)n_in);
            goto done;
        }
        snprintf(t[i].name, sizeof t[i].name, "%s.lora_%c", gguf, is_b ? 'b' : 'a');
        t[i].source = s->name;
        t[i].file = sf;
        t[i].src = s;
        t[i].rows = s->shape[0];
        t[i].cols = s->shape[1];
        t[i].dst_type = s->type == LLP_BF16 ? LLP_F32 : s->type;
        if (is_b && (module == 0 || module == 1)) t[i].head_dim = head_dim;
    }
    /* every A has its B with the same rank */
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(t[i].name);
        if (t[i].name[len - 1] != 'a') continue;
        char pair[96];
        snprintf(pair, sizeof pair, "%.*sb", (int)(len - 1), t[i].name);
        const cv_tensor *b = NULL;
        for (size_t k = 0; k < n && !b; k++)
            if (strcmp(t[k].name, pair) == 0) b = &t[k];
        if (!b) {
            llp_err_set(err, "%s: tensor '%.96s' has no lora_B partner", st_path_, t[i].source);
            goto done;
        }
        if (b->cols != t[i].rows) {
            llp_err_set(err, "%s: tensor '%.96s' has rank %lld but its lora_A has rank %lld", st_path_,
                        b->source, (long long)b->cols, (long long)t[i].rows);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(t[i].name);
        if (t[i].name[len - 1] != 'b') continue;
        char pair[96];
        bool found = false;
        snprintf(pair, sizeof pair, "%.*sa", (int)(len - 1), t[i].name);
        for (size_t k = 0; k < n && !found; k++) found = strcmp(t[k].name, pair) == 0;
        if (!found) {
            llp_err_set(err, "%s: tensor '%.96s' has no lora_A partner", st_path_, t[i].source);
            goto done;
        }
    }
    if (n == 0) {
        llp_err_set(err, "%s: no LoRA tensors", st_path_);
        goto done;
    }

    gguf_writer *w = gguf_writer_new();
    gguf_set_str(w, "general.architecture", "llama");
    gguf_set_str(w, "general.type", "adapter");
    gguf_set_str(w, "adapter.type", "lora");
    gguf_set_f32(w, "adapter.lora.alpha", (float)lc.alpha);
    cv_sort(t, n);
    cv_job job = { .tensors = t, .n = n, .opts = o };
    for (size_t i = 0; i < n; i++) {
        int64_t ne[2] = { t[i].cols, t[i].rows };
        gguf_add_tensor_fill(w, t[i].name, 2, ne, t[i].dst_type, cv_fill, &job);
    }
    rc = gguf_writer_write(w, out, err);
    gguf_writer_free(w);
done:
    free(t);
    gguf_close(base);
    st_close(sf);
    free(cfg_path);
    free(st_path_);
    return rc;
}

/*
 * hf_config.c — config.json of a Hugging Face Llama directory (contract in
 * hf_config.h).
 *
 * Not for: tokenizer files (hf_vocab.c), tensors (convert.c).
 */
#include "hf_config.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

/* An integer field: *out, or -1 with err. Absent: dflt (when dflt_ok). */
static int get_int(const char *path, json_t *root, const char *field, bool required, int dflt,
                   int min, int *out, llp_err *err)
{
    json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v)) {
        if (required) return llp_err_set(err, "%s: %s: missing (a Llama config.json has it)", path, field);
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v))
        return llp_err_set(err, "%s: %s: expected an integer", path, field);
    json_int_t x = json_integer_value(v);
    if (x < min || x > (1 << 30))
        return llp_err_set(err, "%s: %s: %lld is out of range (%d to %d)", path, field,
                           (long long)x, min, 1 << 30);
    *out = (int)x;
    return 0;
}

static int get_num(const char *path, json_t *root, const char *field, bool required, double dflt,
                   double *out, llp_err *err)
{
    json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v)) {
        if (required) return llp_err_set(err, "%s: %s: missing (a Llama config.json has it)", path, field);
        *out = dflt;
        return 0;
    }
    if (!json_is_number(v)) return llp_err_set(err, "%s: %s: expected a number", path, field);
    *out = json_number_value(v);
    if (!(*out > 0) || !isfinite(*out))
        return llp_err_set(err, "%s: %s: %g must be positive", path, field, *out);
    return 0;
}

static int read_rope_scaling(const char *path, json_t *root, hf_config *c, llp_err *err)
{
    json_t *rs = json_object_get(root, "rope_scaling");
    if (!rs || json_is_null(rs)) return 0;
    if (!json_is_object(rs)) return llp_err_set(err, "%s: rope_scaling: expected an object or null", path);
    json_t *type = json_object_get(rs, "rope_type");
    if (!type) type = json_object_get(rs, "type");
    if (!json_is_string(type))
        return llp_err_set(err, "%s: rope_scaling.type: missing", path);
    if (strcmp(json_string_value(type), "linear") != 0)
        return llp_err_set(err, "%s: rope_scaling.type: '%.32s' scaling is not supported (linear only)",
                           path, json_string_value(type));
    if (get_num(path, rs, "factor", true, 1, &c->rope_scaling_factor, err)) {
        /* name the field with its object */
        return llp_err_set(err, "%s: rope_scaling.factor: missing or not a positive number", path);
    }
    c->has_rope_scaling = true;
    return 0;
}

int hf_config_load(const char *path, hf_config *c, llp_err *err)
{
    json_error_t jerr;
    memset(c, 0, sizeof *c);
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (strstr(jerr.text, "unable to open"))
            return llp_err_set(err, "%s: cannot open (a Hugging Face model directory has config.json)", path);
        return llp_err_set(err, "%s: not valid JSON: %s (line %d)", path, jerr.text, jerr.line);
    }
    int rc = -1;
    if (!json_is_object(root)) {
        llp_err_set(err, "%s: not a JSON object", path);
        goto done;
    }
    json_t *mt = json_object_get(root, "model_type");
    if (!json_is_string(mt)) {
        llp_err_set(err, "%s: model_type: missing (a Llama config.json has \"model_type\": \"llama\")", path);
        goto done;
    }
    if (strcmp(json_string_value(mt), "llama") != 0) {
        llp_err_set(err, "%s: model_type: '%.32s' is not supported (llp-convert converts llama models)",
                    path, json_string_value(mt));
        goto done;
    }
    json_t *act = json_object_get(root, "hidden_act");
    if (act && !(json_is_string(act) && strcmp(json_string_value(act), "silu") == 0)) {
        llp_err_set(err, "%s: hidden_act: '%.32s' is not supported (Llama uses silu)", path,
                    json_is_string(act) ? json_string_value(act) : "(not a string)");
        goto done;
    }
    static const char *biases[] = { "attention_bias", "mlp_bias" };
    for (size_t i = 0; i < 2; i++)
        if (json_is_true(json_object_get(root, biases[i]))) {
            llp_err_set(err, "%s: %s: true is not supported (GGUF Llama has no bias tensors)", path,
                        biases[i]);
            goto done;
        }
    if (get_int(path, root, "hidden_size", true, 0, 1, &c->dim, err) ||
        get_int(path, root, "intermediate_size", true, 0, 1, &c->ffn_dim, err) ||
        get_int(path, root, "num_attention_heads", true, 0, 1, &c->n_heads, err) ||
        get_int(path, root, "num_key_value_heads", false, c->n_heads, 1, &c->n_heads_kv, err) ||
        get_int(path, root, "num_hidden_layers", true, 0, 1, &c->n_layers, err) ||
        get_int(path, root, "vocab_size", true, 0, 1, &c->n_vocab, err) ||
        get_int(path, root, "max_position_embeddings", true, 0, 1, &c->n_ctx, err) ||
        get_num(path, root, "rms_norm_eps", true, 0, &c->rms_eps, err) ||
        get_num(path, root, "rope_theta", false, 10000.0, &c->rope_theta, err) ||
        get_int(path, root, "bos_token_id", false, -1, 0, &c->bos_id, err) ||
        get_int(path, root, "eos_token_id", false, -1, 0, &c->eos_id, err) ||
        get_int(path, root, "pad_token_id", false, -1, 0, &c->pad_id, err) ||
        read_rope_scaling(path, root, c, err))
        goto done;
    json_t *tie = json_object_get(root, "tie_word_embeddings");
    if (tie && !json_is_boolean(tie)) {
        llp_err_set(err, "%s: tie_word_embeddings: expected true or false", path);
        goto done;
    }
    c->tied = tie && json_is_true(tie);
    if (c->dim % c->n_heads != 0) {
        llp_err_set(err, "%s: hidden_size: %d is not a multiple of num_attention_heads %d", path,
                    c->dim, c->n_heads);
        goto done;
    }
    if (c->n_heads % c->n_heads_kv != 0) {
        llp_err_set(err, "%s: num_key_value_heads: %d does not divide num_attention_heads %d", path,
                    c->n_heads_kv, c->n_heads);
        goto done;
    }
    c->head_dim = c->dim / c->n_heads;
    if (c->head_dim % 2 != 0) {
        llp_err_set(err, "%s: hidden_size: head dimension %d (hidden_size / num_attention_heads) is "
                    "odd; rotary embeddings need pairs", path, c->head_dim);
        goto done;
    }
    int head_dim;
    if (get_int(path, root, "head_dim", false, c->head_dim, 1, &head_dim, err)) goto done;
    if (head_dim != c->head_dim) {
        llp_err_set(err, "%s: head_dim: %d differs from hidden_size / num_attention_heads = %d", path,
                    head_dim, c->head_dim);
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

/*
 * engine.c — open a model, its tokenizer and a context in one step.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "quant.h"

json_t *llp_model_meta(const llp_model *m, const llp_tokenizer *tok)
{
    const llp_config *c = &m->cfg;
    json_t *meta = json_object();
    json_object_set_new(meta, "arch", json_string("llama"));
    json_object_set_new(meta, "n_params", json_integer((json_int_t)m->n_params));
    json_object_set_new(meta, "n_vocab", json_integer(c->n_vocab));
    json_object_set_new(meta, "dim", json_integer(c->dim));
    json_object_set_new(meta, "n_layers", json_integer(c->n_layers));
    json_object_set_new(meta, "n_heads", json_integer(c->n_heads));
    json_object_set_new(meta, "n_heads_kv", json_integer(c->n_heads_kv));
    json_object_set_new(meta, "ffn_dim", json_integer(c->ffn_dim));
    json_object_set_new(meta, "n_ctx_train", json_integer(c->n_ctx_train));
    json_object_set_new(meta, "rope_base", json_real(c->rope_base));
    json_object_set_new(meta, "weights", json_string(llp_type_name(m->layers[0].wq.type)));
    if (tok)
        json_object_set_new(meta, "chat_template",
                            json_boolean(llp_tokenizer_has_chat_template(tok)));
    return meta;
}

llp_engine *llp_engine_open(const llp_engine_opts *o, llp_err *err)
{
    if (!o->model_path || !*o->model_path) {
        llp_err_set(err, "no model: pass -m MODEL or set LLP_MODEL");
        return NULL;
    }
    llp_engine *e = llp_calloc(1, sizeof *e);
    gguf_file *f = gguf_open(o->model_path, err);
    if (!f) goto fail;
    if (llp_model_fingerprint(o->model_path, gguf_bytes(f), gguf_file_size(f),
                              gguf_data_offset(f), e->fingerprint, err)) {
        gguf_close(f);
        goto fail;
    }
    e->file_size = (int64_t)gguf_file_size(f);
    if (!(e->tok = llp_tokenizer_from_gguf(f, err))) {
        gguf_close(f);
        goto fail;
    }
    if (!(e->model = llp_model_from_gguf(f, err))) {
        gguf_close(f);
        goto fail;
    }
    if (llp_tokenizer_n_vocab(e->tok) != e->model->cfg.n_vocab) {
        llp_err_set(err, "%s: vocabulary has %d tokens but token_embd.weight has %d rows",
                    o->model_path, llp_tokenizer_n_vocab(e->tok), e->model->cfg.n_vocab);
        goto fail;
    }
    if (o->n_lora > 0) {
        e->lora = llp_calloc((size_t)o->n_lora, sizeof *e->lora);
        llp_hasher *h = llp_hasher_new();
        llp_hasher_add_str(h, "llamapipe-model-with-lora-v1");
        llp_hasher_add_str(h, e->fingerprint);
        llp_hasher_add_str(h, o->lora_merge ? "merged" : "on the fly");
        for (int i = 0; i < o->n_lora; i++) {
            llp_lora *a = llp_lora_load(o->lora[i], err);
            if (!a) {
                llp_hasher_finish(h, e->fingerprint);
                goto fail;
            }
            e->lora[e->n_lora++] = a;
            if (llp_model_add_lora(e->model, a, o->lora_scale[i], o->lora_merge, err)) {
                llp_hasher_finish(h, e->fingerprint);
                goto fail;
            }
            char scale[32];
            snprintf(scale, sizeof scale, "%.9g", (double)o->lora_scale[i]);
            llp_hasher_add_str(h, a->fingerprint);
            llp_hasher_add_str(h, scale);
        }
        llp_hasher_finish(h, e->fingerprint);
    }
    e->n_seq = o->n_seq == LLP_ENGINE_SEQ_AUTO ? llp_engine_auto_parallel(e->model, o->n_ctx, o->kv_type)
               : o->n_seq > 0 ? o->n_seq : 1;
    llp_context_params cp = { .n_ctx = o->n_ctx, .n_seq = e->n_seq, .n_batch = o->n_batch,
                              .n_threads = o->n_threads, .kv_type = o->kv_type };
    if (!(e->ctx = llp_context_new(e->model, &cp, err))) goto fail;
    e->meta = llp_model_meta(e->model, e->tok);
    if (e->n_lora) {
        json_t *arr = json_array();
        for (int i = 0; i < e->n_lora; i++) {
            json_t *l = json_object();
            json_object_set_new(l, "path", json_string(e->lora[i]->path));
            json_object_set_new(l, "fingerprint", json_string(e->lora[i]->fingerprint));
            json_object_set_new(l, "scale", json_real(o->lora_scale[i]));
            json_array_append_new(arr, l);
        }
        json_object_set_new(e->meta, "lora", arr);
        json_object_set_new(e->meta, "lora_merged", json_boolean(o->lora_merge));
    }
    return e;
fail:
    llp_engine_free(e);
    return NULL;
}

int llp_engine_auto_parallel(const llp_model *m, int n_ctx, llp_kv_type kv)
{
    const llp_config *c = &m->cfg;
    if (n_ctx <= 0) n_ctx = c->n_ctx_train < 4096 ? c->n_ctx_train : 4096;
    double per_seq = (double)llp_kv_bytes_per_seq(kv, c->n_layers, n_ctx, c->kv_dim);
    double ram = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    double budget = (ram - (double)gguf_file_size(m->file)) / 2;
    int n = per_seq > 0 && budget > 0 ? (int)(budget / per_seq) : 1;
    if (n > LLP_PARALLEL_DEFAULT_MAX) n = LLP_PARALLEL_DEFAULT_MAX;
    return n < 1 ? 1 : n;
}

void llp_engine_note_parallel(const llp_engine *e, const char *tool, const char *why)
{
    llp_note(tool, "--parallel %d: up to %d record%s decoded together (%s)", e->n_seq, e->n_seq,
             e->n_seq == 1 ? "" : "s",
             why ? why : "the default: at most 16, as memory for that many full contexts allows");
}

llp_chat_format llp_engine_chat(const llp_engine *e, int want)
{
    const char *tmpl = NULL;
    gguf_get_str(e->model->file, "tokenizer.chat_template", &tmpl, NULL);
    return llp_chat_choose(want, tmpl, e->model->path);
}

void llp_engine_free(llp_engine *e)
{
    if (!e) return;
    llp_context_free(e->ctx);
    llp_model_free(e->model);
    for (int i = 0; i < e->n_lora; i++) llp_lora_free(e->lora[i]);
    free(e->lora);
    llp_tokenizer_free(e->tok);
    if (e->meta) json_decref(e->meta);
    free(e);
}

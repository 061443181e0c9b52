/*
 * hf_vocab.c — the vocabulary of a Hugging Face Llama directory: the
 * SentencePiece model (a protobuf wire-format reader of our own),
 * tokenizer.json for SentencePiece-style BPE, and the special-token
 * configs (contract in hf_vocab.h).
 *
 * Not for: tokenizing text (tokenizer.c), config.json (hf_config.c).
 */
#include "hf_vocab.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tokenizer.h"

/* ---- protobuf wire format ------------------------------------------------
 * A message is a sequence of (key, value): key = field << 3 | wire type;
 * wire types 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit.
 * Groups (3, 4) are obsolete and refused. */

typedef struct pb {
    const uint8_t *p, *end;
} pb;

typedef struct pb_field {
    uint32_t number;
    int wire;
    uint64_t varint;          /* wire 0, and 1/5 as raw bits */
    const uint8_t *bytes;     /* wire 2 */
    size_t len;
} pb_field;

static int pb_varint(pb *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return -1;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) { *out = v; return 0; }
    }
    return -1;
}

/* Next field; 1 at the end, -1 on malformed input. */
static int pb_next(pb *r, pb_field *f)
{
    uint64_t key;
    if (r->p == r->end) return 1;
    if (pb_varint(r, &key) || key >> 3 == 0 || key >> 3 > UINT32_MAX) return -1;
    f->number = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    switch (f->wire) {
    case 0: return pb_varint(r, &f->varint);
    case 1:
        if (r->end - r->p < 8) return -1;
        memcpy(&f->varint, r->p, 8);
        r->p += 8;
        return 0;
    case 5: {
        uint32_t v;
        if (r->end - r->p < 4) return -1;
        memcpy(&v, r->p, 4);
        f->varint = v;
        r->p += 4;
        return 0;
    }
    case 2: {
        uint64_t len;
        if (pb_varint(r, &len) || len > (uint64_t)(r->end - r->p)) return -1;
        f->bytes = r->p;
        f->len = (size_t)len;
        r->p += len;
        return 0;
    }
    default: return -1;
    }
}

/* ---- vocabulary building ------------------------------------------------- */

static void vocab_push(hf_vocab *v, const char *piece, size_t len, float score, int32_t type)
{
    v->pieces = llp_realloc(v->pieces, (size_t)(v->n + 1) * sizeof *v->pieces);
    v->scores = llp_realloc(v->scores, (size_t)(v->n + 1) * sizeof *v->scores);
    v->types = llp_realloc(v->types, (size_t)(v->n + 1) * sizeof *v->types);
    v->pieces[v->n] = llp_strndup(piece, len);
    v->scores[v->n] = score;
    v->types[v->n] = type;
    v->n++;
}

void hf_vocab_free(hf_vocab *v)
{
    if (!v) return;
    for (int i = 0; i < v->n; i++) free(v->pieces[i]);
    free(v->pieces);
    free(v->scores);
    free(v->types);
    free(v->chat_template);
    memset(v, 0, sizeof *v);
}

static int find_piece(const hf_vocab *v, const char *s)
{
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->pieces[i], s) == 0) return i;
    return -1;
}

/* An added token as a config names it: id, text, control when special. */
typedef struct {
    long id;
    const char *text;
    bool special;
} added_tok;

/* Append added tokens whose ids lie past the vocabulary. The ids must
 * continue the vocabulary without a gap (in any order); ids inside it must
 * name the same piece. */
static int append_added(const char *path, const char *field, hf_vocab *v, const added_tok *t,
                        size_t n, llp_err *err)
{
    int n0 = v->n;
    long max_id = -1;
    for (size_t i = 0; i < n; i++) {
        if (t[i].id < 0 || t[i].id > (1 << 24))
            return llp_err_set(err, "%s: %s: token id %ld is out of range", path, field, t[i].id);
        if (t[i].id < n0 && strcmp(v->pieces[t[i].id], t[i].text) != 0)
            return llp_err_set(err, "%s: %s: token %ld is '%.64s' here but '%.64s' in %s", path, field,
                               t[i].id, t[i].text, v->pieces[t[i].id], v->source);
        if (t[i].id > max_id) max_id = t[i].id;
    }
    for (long id = n0; id <= max_id; id++) {
        size_t k = 0;
        while (k < n && t[k].id != id) k++;
        if (k == n)
            return llp_err_set(err, "%s: %s: ids past the %d pieces of %s leave a gap at %ld", path,
                               field, n0, v->source, id);
        vocab_push(v, t[k].text, strlen(t[k].text), 0,
                   t[k].special ? LLP_TOKEN_CONTROL : LLP_TOKEN_USER_DEFINED);
    }
    return 0;
}

/* ---- tokenizer.model ----------------------------------------------------- */

enum { SPM_BPE = 2 };

static int spm_piece(const uint8_t *data, size_t n, const char *path, hf_vocab *v, llp_err *err)
{
    pb r = { data, data + n };
    pb_field f;
    const uint8_t *piece = NULL;
    size_t len = 0;
    float score = 0;
    int64_t type = LLP_TOKEN_NORMAL;
    bool has_piece = false;
    int rc;
    while ((rc = pb_next(&r, &f)) == 0) {
        if (f.number == 1 && f.wire == 2) { piece = f.bytes; len = f.len; has_piece = true; }
        else if (f.number == 2 && f.wire == 5) { uint32_t b = (uint32_t)f.varint; memcpy(&score, &b, 4); }
        else if (f.number == 3 && f.wire == 0) type = (int64_t)f.varint;
        else if (f.number <= 3)
            return llp_err_set(err, "%s: piece %d has field %u of the wrong wire type (pieces)", path,
                               v->n, f.number);
    }
    if (rc < 0) return llp_err_set(err, "%s: piece %d is malformed protobuf (pieces)", path, v->n);
    if (!has_piece) return llp_err_set(err, "%s: piece %d has no text (pieces.piece)", path, v->n);
    if (memchr(piece, 0, len)) return llp_err_set(err, "%s: piece %d holds a NUL byte (pieces.piece)", path, v->n);
    if (type < LLP_TOKEN_NORMAL || type > LLP_TOKEN_BYTE)
        return llp_err_set(err, "%s: piece %d has unknown type %lld (pieces.type)", path, v->n, (long long)type);
    vocab_push(v, (const char *)piece, len, score, (int32_t)type);
    return 0;
}

typedef struct spm_specs {
    int64_t model_type;
    int32_t unk, bos, eos, pad;
    bool byte_fallback;
    bool add_dummy_prefix;
    bool remove_extra_whitespaces;
} spm_specs;

static int spm_trainer(const uint8_t *data, size_t n, const char *path, spm_specs *s, llp_err *err)
{
    pb r = { data, data + n };
    pb_field f;
    int rc;
    while ((rc = pb_next(&r, &f)) == 0) {
        if (f.wire != 0) continue;
        switch (f.number) {
        case 3: s->model_type = (int64_t)f.varint; break;
        case 35: s->byte_fallback = f.varint != 0; break;
        case 40: s->unk = (int32_t)f.varint; break;   /* int32: negative ids are 10-byte varints */
        case 41: s->bos = (int32_t)f.varint; break;
        case 42: s->eos = (int32_t)f.varint; break;
        case 43: s->pad = (int32_t)f.varint; break;
        }
    }
    if (rc < 0) return llp_err_set(err, "%s: trainer_spec is malformed protobuf (trainer_spec)", path);
    return 0;
}

static int spm_normalizer(const uint8_t *data, size_t n, const char *path, spm_specs *s, llp_err *err)
{
    pb r = { data, data + n };
    pb_field f;
    int rc;
    while ((rc = pb_next(&r, &f)) == 0) {
        if (f.wire != 0) continue;
        if (f.number == 3) s->add_dummy_prefix = f.varint != 0;
        if (f.number == 4) s->remove_extra_whitespaces = f.varint != 0;
    }
    if (rc < 0) return llp_err_set(err, "%s: normalizer_spec is malformed protobuf (normalizer_spec)", path);
    return 0;
}

int hf_vocab_from_spm(const uint8_t *data, size_t n, const char *path, hf_vocab *v, llp_err *err)
{
    memset(v, 0, sizeof *v);
    spm_specs s = { .model_type = 1, .unk = 0, .bos = 1, .eos = 2, .pad = -1,
                    .add_dummy_prefix = true, .remove_extra_whitespaces = true };
    pb r = { data, data + n };
    pb_field f;
    int rc;
    bool has_trainer = false;
    while ((rc = pb_next(&r, &f)) == 0) {
        if (f.wire != 2) {
            if (f.number <= 3) goto malformed;
            continue;
        }
        if (f.number == 1) rc = spm_piece(f.bytes, f.len, path, v, err);
        else if (f.number == 2) { rc = spm_trainer(f.bytes, f.len, path, &s, err); has_trainer = true; }
        else if (f.number == 3) rc = spm_normalizer(f.bytes, f.len, path, &s, err);
        if (rc) goto fail;
    }
    if (rc < 0) goto malformed;
    if (v->n == 0) {
        llp_err_set(err, "%s: no pieces (not a SentencePiece model?)", path);
        goto fail;
    }
    if (!has_trainer || s.model_type != SPM_BPE) {
        llp_err_set(err, "%s: SentencePiece model type %s is not supported: Llama vocabularies are "
                    "BPE (trainer_spec.model_type)", path,
                    !has_trainer ? "(no trainer_spec)" : s.model_type == 1 ? "UNIGRAM" :
                    s.model_type == 3 ? "WORD" : s.model_type == 4 ? "CHAR" : "unknown");
        goto fail;
    }
    v->unk = s.unk >= 0 && s.unk < v->n ? s.unk : -1;
    v->bos = s.bos >= 0 && s.bos < v->n ? s.bos : -1;
    v->eos = s.eos >= 0 && s.eos < v->n ? s.eos : -1;
    v->pad = s.pad >= 0 && s.pad < v->n ? s.pad : -1;
    v->add_space_prefix = s.add_dummy_prefix;
    v->add_bos = true;
    v->add_eos = false;
    v->source = "tokenizer.model";
    return 0;
malformed:
    llp_err_set(err, "%s: malformed protobuf (not a SentencePiece model?)", path);
fail:
    hf_vocab_free(v);
    return -1;
}

/* ---- tokenizer.json -------------------------------------------------------- */

static const char *json_type_of(json_t *o)
{
    json_t *t = json_is_object(o) ? json_object_get(o, "type") : NULL;
    return json_is_string(t) ? json_string_value(t) : "";
}

/* true when a normalizer or pre-tokenizer (possibly a Sequence) contains
 * a step of type `type`; *hit is that step. */
static bool has_step(json_t *o, const char *list_key, const char *type, json_t **hit)
{
    if (!json_is_object(o)) return false;
    if (strcmp(json_type_of(o), type) == 0) { if (hit) *hit = o; return true; }
    json_t *list = json_object_get(o, list_key);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) if (has_step(e, list_key, type, hit)) return true;
    return false;
}

static int from_tokenizer_json(const char *path, hf_vocab *v, llp_err *err)
{
    json_error_t jerr;
    memset(v, 0, sizeof *v);
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) return llp_err_set(err, "%s: not valid JSON: %s (line %d)", path, jerr.text, jerr.line);
    int rc = -1;
    json_t *model = json_object_get(root, "model"), *vocab = json_object_get(model, "vocab"),
           *merges = json_object_get(model, "merges"), *fb = json_object_get(model, "byte_fallback");
    json_t *pre = json_object_get(root, "pre_tokenizer"), *norm = json_object_get(root, "normalizer");
    const char *mtype = json_type_of(model);
    if (strcmp(mtype, "BPE") != 0) {
        llp_err_set(err, "%s: model.type '%.32s' is not a SentencePiece-style Llama vocabulary "
                    "(BPE with byte_fallback); no tokenizer.model to read instead", path, mtype);
        goto done;
    }
    if (has_step(pre, "pretokenizers", "ByteLevel", NULL)) {
        llp_err_set(err, "%s: pre_tokenizer: a byte-level BPE vocabulary (GPT-2 style, as in "
                    "Llama 3) is not supported; llamapipe reads SentencePiece-style vocabularies", path);
        goto done;
    }
    if (!json_is_true(fb)) {
        llp_err_set(err, "%s: model.byte_fallback: not true, so this is not a SentencePiece-style "
                    "Llama vocabulary", path);
        goto done;
    }
    if (!json_is_object(vocab) || json_object_size(vocab) == 0 || !json_is_array(merges)) {
        llp_err_set(err, "%s: model.vocab / model.merges: missing", path);
        goto done;
    }
    int n = (int)json_object_size(vocab);
    v->n = n;
    v->pieces = llp_calloc((size_t)n, sizeof *v->pieces);
    v->scores = llp_calloc((size_t)n, sizeof *v->scores);
    v->types = llp_calloc((size_t)n, sizeof *v->types);
    const char *piece;
    json_t *id;
    json_object_foreach(vocab, piece, id) {
        json_int_t i = json_is_integer(id) ? json_integer_value(id) : -1;
        if (i < 0 || i >= n || v->pieces[i]) {
            llp_err_set(err, "%s: model.vocab: piece '%.64s' has id %lld, not a unique id below %d",
                        path, piece, (long long)i, n);
            goto done;
        }
        v->pieces[i] = llp_strdup(piece);
        v->types[i] = LLP_TOKEN_NORMAL;
        v->scores[i] = -1e9f;
    }
    bool space = false;
    for (int i = 0; i < n; i++) {
        unsigned b;
        char tail;
        if (strlen(v->pieces[i]) == 6 && sscanf(v->pieces[i], "<0x%2X%c", &b, &tail) == 2 && tail == '>') {
            v->types[i] = LLP_TOKEN_BYTE;
            v->scores[i] = 0;
        }
        if (strncmp(v->pieces[i], "\xe2\x96\x81", 3) == 0) space = true;
    }
    for (unsigned b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        if (!json_object_get(vocab, name)) {
            llp_err_set(err, "%s: model.vocab: no byte piece %s, so this is not a SentencePiece-style "
                        "Llama vocabulary", path, name);
            goto done;
        }
    }
    if (!space) {
        llp_err_set(err, "%s: model.vocab: no piece starts with U+2581 '\xe2\x96\x81', so this is "
                    "not a SentencePiece-style Llama vocabulary", path);
        goto done;
    }
    /* scores from merge ranks: the first merge producing a piece wins */
    size_t rank;
    json_t *m;
    json_array_foreach(merges, rank, m) {
        char buf[1024];
        if (json_is_string(m)) {
            const char *s = json_string_value(m), *sp = strchr(s, ' ');
            if (!sp || strlen(s) >= sizeof buf) goto bad_merge;
            memcpy(buf, s, (size_t)(sp - s));
            strcpy(buf + (sp - s), sp + 1);
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            if (snprintf(buf, sizeof buf, "%s%s", json_string_value(json_array_get(m, 0)),
                         json_string_value(json_array_get(m, 1))) >= (int)sizeof buf)
                goto bad_merge;
        } else {
            goto bad_merge;
        }
        json_t *to = json_object_get(vocab, buf);
        if (!to) goto bad_merge;
        json_int_t i = json_integer_value(to);
        if (v->scores[i] == -1e9f) v->scores[i] = -(float)rank;
        continue;
bad_merge:
        llp_err_set(err, "%s: model.merges: merge %zu is not two pieces whose concatenation is in "
                    "the vocabulary", path, rank + 1);
        goto done;
    }
    json_t *unk = json_object_get(model, "unk_token");
    v->unk = json_is_string(unk) ? find_piece(v, json_string_value(unk)) : -1;
    if (v->unk >= 0) { v->types[v->unk] = LLP_TOKEN_UNKNOWN; v->scores[v->unk] = 0; }
    size_t i;
    json_t *at;
    json_array_foreach(json_object_get(root, "added_tokens"), i, at) {
        json_t *aid = json_object_get(at, "id");
        json_int_t k = json_is_integer(aid) ? json_integer_value(aid) : -1;
        if (k < 0 || k >= n) continue;                  /* past the BPE vocabulary: hf_vocab_load */
        if (k != v->unk && json_is_true(json_object_get(at, "special"))) {
            v->types[k] = LLP_TOKEN_CONTROL;
            v->scores[k] = 0;
        }
    }
    {
        json_t *added = json_object_get(root, "added_tokens");
        size_t m = 0;
        added_tok *t = llp_calloc(json_array_size(added) + 1, sizeof *t);
        json_array_foreach(added, i, at) {
            json_t *aid = json_object_get(at, "id"), *content = json_object_get(at, "content");
            if (!json_is_integer(aid) || !json_is_string(content)) continue;
            if (json_integer_value(aid) < n) continue;
            t[m++] = (added_tok){ (long)json_integer_value(aid), json_string_value(content),
                                  json_is_true(json_object_get(at, "special")) };
        }
        int arc = append_added(path, "added_tokens", v, t, m, err);
        free(t);
        if (arc) goto done;
    }
    json_t *meta = NULL;
    v->add_space_prefix = false;
    if (has_step(norm, "normalizers", "Prepend", &meta)) {
        json_t *pp = json_object_get(meta, "prepend");
        v->add_space_prefix = json_is_string(pp) && strcmp(json_string_value(pp), "\xe2\x96\x81") == 0;
    } else if (has_step(pre, "pretokenizers", "Metaspace", &meta)) {
        json_t *aps = json_object_get(meta, "add_prefix_space"), *scheme = json_object_get(meta, "prepend_scheme");
        v->add_space_prefix = json_is_true(aps) ||
            (json_is_string(scheme) && strcmp(json_string_value(scheme), "never") != 0);
    }
    v->bos = find_piece(v, "<s>");
    v->eos = find_piece(v, "</s>");
    v->pad = -1;
    v->add_bos = true;
    v->add_eos = false;
    v->source = "tokenizer.json";
    rc = 0;
done:
    json_decref(root);
    if (rc) hf_vocab_free(v);
    return rc;
}

/* ---- special tokens ------------------------------------------------------- */

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A JSON file that may be absent: *root NULL then. */
static int load_optional(const char *path, json_t **root, llp_err *err)
{
    json_error_t jerr;
    *root = NULL;
    if (!exists(path)) return 0;
    *root = json_load_file(path, 0, &jerr);
    if (!*root) return llp_err_set(err, "%s: not valid JSON: %s (line %d)", path, jerr.text, jerr.line);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return llp_err_set(err, "%s: not a JSON object", path);
    }
    return 0;
}

/* A token named in a config: "text" or {"content": "text"}; NULL absent. */
static const char *token_text(json_t *o, const char *field)
{
    json_t *t = json_object_get(o, field);
    if (json_is_object(t)) t = json_object_get(t, "content");
    return json_is_string(t) ? json_string_value(t) : NULL;
}

static int resolve_special(const char *path, json_t *o, const char *field, const hf_vocab *v,
                           int *id, bool *named, llp_err *err)
{
    const char *text = o ? token_text(o, field) : NULL;
    if (!text) return 0;
    int i = find_piece(v, text);
    if (i < 0)
        return llp_err_set(err, "%s: %s: token '%.64s' is not in the vocabulary", path, field, text);
    *id = i;
    *named = true;
    return 0;
}

/* added_tokens_decoder of tokenizer_config.json: {"ID": {"content": ...,
 * "special": bool}}; added_tokens.json (older): {"TEXT": ID}. */
static int added_tokens(const char *path, json_t *tc, hf_vocab *v, llp_err *err)
{
    json_t *dec = json_object_get(tc, "added_tokens_decoder");
    if (!json_is_object(dec)) return 0;
    size_t m = 0;
    added_tok *t = llp_calloc(json_object_size(dec) + 1, sizeof *t);
    const char *key;
    json_t *e;
    int rc = 0;
    json_object_foreach(dec, key, e) {
        char *end;
        long id = strtol(key, &end, 10);
        json_t *content = json_object_get(e, "content");
        if (*end || end == key || !json_is_string(content)) {
            rc = llp_err_set(err, "%s: added_tokens_decoder: entry '%.32s' is not an id with a content", path, key);
            break;
        }
        t[m++] = (added_tok){ id, json_string_value(content),
                              json_is_true(json_object_get(e, "special")) };
    }
    if (rc == 0) rc = append_added(path, "added_tokens_decoder", v, t, m, err);
    free(t);
    return rc;
}

static int added_tokens_json(const char *path, json_t *at, hf_vocab *v, llp_err *err)
{
    size_t m = 0;
    added_tok *t = llp_calloc(json_object_size(at) + 1, sizeof *t);
    const char *key;
    json_t *e;
    int rc = 0;
    json_object_foreach(at, key, e) {
        if (!json_is_integer(e)) {
            rc = llp_err_set(err, "%s: token '%.32s' has no integer id", path, key);
            break;
        }
        t[m++] = (added_tok){ (long)json_integer_value(e), key, false };
    }
    if (rc == 0) rc = append_added(path, "added tokens", v, t, m, err);
    free(t);
    return rc;
}

static int read_configs(const char *dir, const hf_config *cfg, hf_vocab *v, llp_err *err)
{
    char *tc_path = llp_path_join(dir, "tokenizer_config.json"), *sm_path = llp_path_join(dir, "special_tokens_map.json"),
         *at_path = llp_path_join(dir, "added_tokens.json");
    json_t *tc = NULL, *sm = NULL, *at = NULL;
    int rc = -1;
    if (load_optional(tc_path, &tc, err) || load_optional(sm_path, &sm, err) ||
        load_optional(at_path, &at, err))
        goto done;
    if (at && added_tokens_json(at_path, at, v, err)) goto done;
    if (tc && added_tokens(tc_path, tc, v, err)) goto done;
    struct { const char *field; int *id; int cfg_id; } specials[] = {
        { "bos_token", &v->bos, cfg->bos_id }, { "eos_token", &v->eos, cfg->eos_id },
        { "unk_token", &v->unk, -1 }, { "pad_token", &v->pad, cfg->pad_id },
    };
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        bool named = false;
        if (resolve_special(tc_path, tc, specials[i].field, v, specials[i].id, &named, err)) goto done;
        if (!named && resolve_special(sm_path, sm, specials[i].field, v, specials[i].id, &named, err))
            goto done;
        if (!named && specials[i].cfg_id >= 0) {
            if (specials[i].cfg_id >= v->n) {
                llp_err_set(err, "%s/config.json: %.3s_token_id: %d is past the vocabulary of %d", dir,
                            specials[i].field, specials[i].cfg_id, v->n);
                goto done;
            }
            *specials[i].id = specials[i].cfg_id;
        }
    }
    if (tc) {
        json_t *b = json_object_get(tc, "add_bos_token"), *e = json_object_get(tc, "add_eos_token");
        if (b && !json_is_boolean(b)) { llp_err_set(err, "%s: add_bos_token: expected true or false", tc_path); goto done; }
        if (e && !json_is_boolean(e)) { llp_err_set(err, "%s: add_eos_token: expected true or false", tc_path); goto done; }
        if (b) v->add_bos = json_is_true(b);
        if (e) v->add_eos = json_is_true(e);
        json_t *ct = json_object_get(tc, "chat_template");
        if (json_is_array(ct)) {
            size_t i;
            json_t *x, *pick = NULL;
            json_array_foreach(ct, i, x) {
                json_t *name = json_object_get(x, "name");
                if (json_is_string(name) && strcmp(json_string_value(name), "default") == 0)
                    pick = json_object_get(x, "template");
            }
            ct = pick;
        }
        if (ct && !json_is_null(ct)) {
            if (!json_is_string(ct)) { llp_err_set(err, "%s: chat_template: expected a string", tc_path); goto done; }
            v->chat_template = llp_strdup(json_string_value(ct));
        }
    }
    rc = 0;
done:
    json_decref(tc);
    json_decref(sm);
    json_decref(at);
    free(tc_path);
    free(sm_path);
    free(at_path);
    return rc;
}

static int read_file(const char *path, uint8_t **data, size_t *n, llp_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return llp_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || sb.st_size > (1 << 30)) {
        fclose(fp);
        return llp_err_set(err, "%s: not a readable file of at most 1 GiB", path);
    }
    *n = (size_t)sb.st_size;
    *data = llp_malloc(*n ? *n : 1);
    size_t got = fread(*data, 1, *n, fp);
    fclose(fp);
    if (got != *n) {
        free(*data);
        return llp_err_set(err, "%s: read failed", path);
    }
    return 0;
}

int hf_vocab_load(const char *dir, const hf_config *cfg, hf_vocab *v, llp_err *err)
{
    char *spm = llp_path_join(dir, "tokenizer.model"), *tj = llp_path_join(dir, "tokenizer.json");
    int rc = -1;
    memset(v, 0, sizeof *v);
    if (exists(spm)) {
        uint8_t *data = NULL;
        size_t n = 0;
        if (read_file(spm, &data, &n, err)) goto done;
        rc = hf_vocab_from_spm(data, n, spm, v, err);
        free(data);
    } else if (exists(tj)) {
        rc = from_tokenizer_json(tj, v, err);
    } else {
        llp_err_set(err, "%s: no tokenizer.model and no tokenizer.json", dir);
    }
    if (rc) goto done;
    rc = -1;
    if (read_configs(dir, cfg, v, err)) goto done;
    if (v->n > cfg->n_vocab) {
        llp_err_set(err, "%s/config.json: vocab_size: %d, but %s and the added tokens have %d pieces",
                    dir, cfg->n_vocab, v->source, v->n);
        goto done;
    }
    while (v->n < cfg->n_vocab) {
        char pad[32];
        snprintf(pad, sizeof pad, "[PAD%d]", v->n);
        vocab_push(v, pad, strlen(pad), 0, LLP_TOKEN_UNUSED);
    }
    rc = 0;
done:
    if (rc) hf_vocab_free(v);
    free(spm);
    free(tj);
    return rc;
}

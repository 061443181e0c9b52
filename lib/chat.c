/*
 * chat.c — single-turn chat prompt formats (see chat.h).
 */
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

llp_chat_format llp_chat_detect(const char *tmpl, const char *path)
{
    if (tmpl && *tmpl) {
        if (strstr(tmpl, "<|im_start|>")) return LLP_CHAT_CHATML;
        return LLP_CHAT_LLAMA2;     /* [INST] templates and unknown ones */
    }
    if (path) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        for (const char *p = base; *p; p++)
            if (strncasecmp(p, "chat", 4) == 0) return LLP_CHAT_LLAMA2;
    }
    return LLP_CHAT_NONE;
}

llp_chat_format llp_chat_choose(int want, const char *tmpl, const char *path)
{
    if (want == 0) return LLP_CHAT_NONE;
    llp_chat_format detected = llp_chat_detect(tmpl, path);
    if (want == 1 && detected == LLP_CHAT_NONE) return LLP_CHAT_LLAMA2;
    return detected;
}

const char *llp_chat_format_name(llp_chat_format f)
{
    switch (f) {
    case LLP_CHAT_LLAMA2: return "llama2";
    case LLP_CHAT_CHATML: return "chatml";
    default: return "none";
    }
}

static char *concat(const char *const *parts, int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) len += strlen(parts[i]);
    char *s = llp_malloc(len + 1), *p = s;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(parts[i]);
        memcpy(p, parts[i], k);
        p += k;
    }
    *p = 0;
    return s;
}

char *llp_chat_format_prompt(llp_chat_format f, const char *system, const char *user)
{
    bool has_system = system && *system;
    switch (f) {
    case LLP_CHAT_LLAMA2:
        if (has_system) {
            const char *parts[] = { "[INST] <<SYS>>\n", system, "\n<</SYS>>\n\n", user, " [/INST]" };
            return concat(parts, 5);
        } else {
            const char *parts[] = { "[INST] ", user, " [/INST]" };
            return concat(parts, 3);
        }
    case LLP_CHAT_CHATML:
        if (has_system) {
            const char *parts[] = { "<|im_start|>system\n", system, "<|im_end|>\n<|im_start|>user\n",
                                    user, "<|im_end|>\n<|im_start|>assistant\n" };
            return concat(parts, 5);
        } else {
            const char *parts[] = { "<|im_start|>user\n", user, "<|im_end|>\n<|im_start|>assistant\n" };
            return concat(parts, 3);
        }
    default:
        return llp_strdup(user);
    }
}

/* ---- conversations --------------------------------------------------------------- */

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static void put(strbuf *b, const char *t)
{
    size_t k = strlen(t);
    if (b->len + k + 1 > b->cap) {
        b->cap = (b->len + k + 1) * 2;
        b->s = llp_realloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, t, k + 1);
    b->len += k;
}

char *llp_chat_format_messages(llp_chat_format f, const llp_chat_message *m, int n)
{
    strbuf b = { 0 };
    put(&b, "");
    if (f == LLP_CHAT_CHATML) {
        for (int i = 0; i < n; i++) {
            put(&b, "<|im_start|>");
            put(&b, m[i].role);
            put(&b, "\n");
            put(&b, m[i].content);
            put(&b, "<|im_end|>\n");
        }
        put(&b, "<|im_start|>assistant\n");
    } else if (f == LLP_CHAT_LLAMA2) {
        /* every system message joins the first user turn's <<SYS>> block */
        strbuf sys = { 0 };
        put(&sys, "");
        for (int i = 0; i < n; i++)
            if (!strcmp(m[i].role, "system") && *m[i].content) {
                if (sys.len) put(&sys, "\n");
                put(&sys, m[i].content);
            }
        bool first_user = true, open_turn = false;
        for (int i = 0; i < n; i++) {
            if (!strcmp(m[i].role, "user")) {
                if (open_turn) put(&b, " [/INST]");
                put(&b, "[INST] ");
                if (first_user && sys.len) {
                    put(&b, "<<SYS>>\n");
                    put(&b, sys.s);
                    put(&b, "\n<</SYS>>\n\n");
                }
                first_user = false;
                put(&b, m[i].content);
                open_turn = true;
            } else if (!strcmp(m[i].role, "assistant")) {
                if (open_turn) put(&b, " [/INST]");
                open_turn = false;
                put(&b, " ");
                put(&b, m[i].content);
                put(&b, " </s><s>");
            }
        }
        if (open_turn) put(&b, " [/INST]");
        free(sys.s);
    } else {
        for (int i = 0; i < n; i++) {
            if (i) put(&b, "\n\n");
            put(&b, m[i].content);
        }
    }
    return b.s;
}

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

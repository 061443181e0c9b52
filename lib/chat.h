/*
 * chat.h — turn a user message (and an optional system prompt) into the text
 * a chat model expects.
 *
 * Llama-2 chat models want
 *     <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]
 * and many Llama-2 GGUF files carry no tokenizer.chat_template at all, so
 * that format is the default for files named "chat" or holding an [INST]
 * template. ChatML templates (<|im_start|>) are recognised too.
 *
 * Not for: tokenizing (the caller encodes the result, BOS added by the
 * tokenizer, special tokens parsed), or checking a conversation's roles
 * (the caller, e.g. serve_api.c, refuses unknown ones).
 */
#ifndef LLP_CHAT_H
#define LLP_CHAT_H

#include <stdbool.h>

typedef enum llp_chat_format {
    LLP_CHAT_NONE = 0,      /* plain completion: the prompt as it is */
    LLP_CHAT_LLAMA2,        /* [INST] ... [/INST] */
    LLP_CHAT_CHATML,        /* <|im_start|>user ... <|im_end|> */
} llp_chat_format;

/* The chat format a model wants: from its chat template when it has one
 * (NULL if not), else Llama-2 when the file name contains "chat" (as the
 * published Llama-2-*-chat files are named), else none. */
llp_chat_format llp_chat_detect(const char *chat_template, const char *model_path);

const char *llp_chat_format_name(llp_chat_format f);

/* The format for --chat (want 1), --no-chat (want 0) or neither (want -1):
 * none, the detected format, or when forced on a model with no sign of one,
 * Llama-2's. */
llp_chat_format llp_chat_choose(int want, const char *chat_template, const char *model_path);

/* The prompt text for one user turn (newly allocated). system may be NULL.
 * For LLP_CHAT_NONE the user text is returned unchanged. The BOS token is
 * not included: the tokenizer adds it. */
char *llp_chat_format_prompt(llp_chat_format f, const char *system, const char *user);

/* One message of a conversation: role "system", "user" or "assistant". */
typedef struct llp_chat_message {
    const char *role;
    const char *content;
} llp_chat_message;

/* The prompt text for a whole conversation, ending where the assistant's
 * next turn starts (newly allocated). Llama-2: system messages go into the
 * first [INST] block, each finished assistant turn is followed by
 * " </s><s>" so the next [INST] starts a new sequence as the model was
 * trained; ChatML: one <|im_start|>ROLE ... <|im_end|> block per message;
 * none: the contents joined by blank lines. One user message (after an
 * optional system one) gives exactly llp_chat_format_prompt's text. */
char *llp_chat_format_messages(llp_chat_format f, const llp_chat_message *m, int n);

#endif

/*
 * chat_messages.c — llp_chat_format_messages (chat.h): a conversation in
 * each format, and the single-turn case equal to llp_chat_format_prompt's
 * text (so /v1/chat/completions and llp-generate --chat agree).
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "tap.h"

static int check(llp_chat_format f, const llp_chat_message *m, int n, const char *want,
                 const char *name)
{
    char *got = llp_chat_format_messages(f, m, n);
    int r = ok(!strcmp(got, want), "%s", name);
    if (!r) diag("got:  [%s]\nwant: [%s]", got, want);
    free(got);
    return r;
}

int main(void)
{
    const llp_chat_message one[] = { { "user", "Hi" } };
    const llp_chat_message sys[] = { { "system", "Be brief." }, { "user", "Hi" } };
    const llp_chat_message conv[] = { { "system", "Be brief." }, { "user", "Hi" },
                                      { "assistant", "Hello." }, { "user", "Bye" } };
    llp_chat_format fs[] = { LLP_CHAT_NONE, LLP_CHAT_LLAMA2, LLP_CHAT_CHATML };
    for (int i = 0; i < 3; i++) {
        char *a = llp_chat_format_prompt(fs[i], NULL, "Hi");
        check(fs[i], one, 1, a, "one user message is llp_chat_format_prompt's text");
        free(a);
        a = llp_chat_format_prompt(fs[i], "Be brief.", "Hi");
        if (fs[i] != LLP_CHAT_NONE)
            check(fs[i], sys, 2, a, "system + user is llp_chat_format_prompt's text");
        free(a);
    }
    check(LLP_CHAT_LLAMA2, conv, 4,
          "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]",
          "Llama-2: system in the first turn, a finished turn closed by </s><s>");
    check(LLP_CHAT_CHATML, conv, 4,
          "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
          "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
          "<|im_start|>assistant\n",
          "ChatML: one block per message, then the assistant's");
    check(LLP_CHAT_NONE, conv, 4, "Be brief.\n\nHi\n\nHello.\n\nBye", "none: contents joined by blank lines");
    return done_testing();
}

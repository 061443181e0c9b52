/*
 * quant_types.c — the table of ggml weight types: names, block sizes and
 * which ones llamapipe can load.
 *
 * Not for: the block formats themselves (quant.c).
 */
#include "quant.h"

#include <stdio.h>
#include <strings.h>

/* Ids follow ggml; gaps are ids that ggml retired. Types listed but not
 * supported are known so that a file holding them is refused by name. */
static const llp_type_info type_table[LLP_TYPE_COUNT] = {
    [0]  = { "F32",     1,   4,   true  },
    [1]  = { "F16",     1,   2,   true  },
    [2]  = { "Q4_0",    32,  18,  true  },
    [3]  = { "Q4_1",    32,  20,  true  },
    [6]  = { "Q5_0",    32,  22,  true  },
    [7]  = { "Q5_1",    32,  24,  true  },
    [8]  = { "Q8_0",    32,  34,  true  },
    [9]  = { "Q8_1",    32,  36,  false },
    [10] = { "Q2_K",    256, 84,  true  },
    [11] = { "Q3_K",    256, 110, true  },
    [12] = { "Q4_K",    256, 144, true  },
    [13] = { "Q5_K",    256, 176, true  },
    [14] = { "Q6_K",    256, 210, true  },
    [15] = { "Q8_K",    256, 292, false },
    [16] = { "IQ2_XXS", 256, 66,  false },
    [17] = { "IQ2_XS",  256, 74,  false },
    [18] = { "IQ3_XXS", 256, 98,  false },
    [19] = { "IQ1_S",   256, 50,  false },
    [20] = { "IQ4_NL",  32,  18,  false },
    [21] = { "IQ3_S",   256, 110, false },
    [22] = { "IQ2_S",   256, 82,  false },
    [23] = { "IQ4_XS",  256, 136, false },
    [24] = { "I8",      1,   1,   false },
    [25] = { "I16",     1,   2,   false },
    [26] = { "I32",     1,   4,   false },
    [27] = { "I64",     1,   8,   false },
    [28] = { "F64",     1,   8,   false },
    [29] = { "IQ1_M",   256, 56,  false },
    [30] = { "BF16",    1,   2,   true  },
    [34] = { "TQ1_0",   256, 54,  false },
    [35] = { "TQ2_0",   256, 66,  false },
    [39] = { "MXFP4",   32,  17,  false },
};

const llp_type_info *llp_type_get(uint32_t type)
{
    if (type >= LLP_TYPE_COUNT || !type_table[type].name) return NULL;
    return &type_table[type];
}

const char *llp_type_name(uint32_t type)
{
    static __thread char buf[32];
    const llp_type_info *t = llp_type_get(type);
    if (t) return t->name;
    snprintf(buf, sizeof buf, "type %u", type);
    return buf;
}

int llp_type_from_name(const char *name)
{
    for (int i = 0; i < LLP_TYPE_COUNT; i++)
        if (type_table[i].name && strcasecmp(type_table[i].name, name) == 0)
            return i;
    return -1;
}

size_t llp_row_size(uint32_t type, int64_t n)
{
    const llp_type_info *t = llp_type_get(type);
    if (!t) return 0;
    return (size_t)(n / t->block_size) * (size_t)t->type_size;
}

#!/usr/bin/python3
"""bench/hf_shape.py — write a random-weight Hugging Face Llama directory of
a given shape in F16 safetensors (sharded, with index.json), to measure
llp-convert's speed and resident memory without downloading a model:

  /usr/bin/python3 bench/hf_shape.py OUT_DIR SPM_MODEL [7b|1.1b|medium|tiny]
  /usr/bin/time -v bin/llp-convert OUT_DIR -o /tmp/7b.Q4_K_M.gguf --type Q4_K_M

The weights are one 16M-value random block (N(0, 0.02), F16) read at a
different offset for every tensor: generating 6.7 billion fresh values
would cost more than the conversion being measured, and neither the
quantizer's speed nor its memory depends on the values. The vocabulary is
the given SentencePiece model, padded to vocab_size by llp-convert.
Needs python3-numpy (Debian).
"""
import json, os, struct, sys
import numpy as np

SHAPES = {  # dim, layers, ffn, heads, kv heads, vocab
    '7b': (4096, 32, 11008, 32, 32, 32000),
    '1.1b': (2048, 22, 5632, 32, 4, 32000),
    'medium': (1024, 4, 2816, 8, 8, 32000),
    'tiny': (64, 2, 192, 4, 2, 512),
}

def main():
    out, spm, shape = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else '7b'
    dim, n_layers, ffn, heads, kv_heads, vocab = SHAPES[shape]
    kv = dim // heads * kv_heads
    os.makedirs(out, exist_ok=True)
    block = (np.random.default_rng(1).standard_normal(1 << 24) * 0.02).astype('<f2')
    block = np.concatenate([block, block])           # any window of 16M values is contiguous
    tensors = [('model.embed_tokens.weight', (vocab, dim)), ('model.norm.weight', (dim,)),
               ('lm_head.weight', (vocab, dim))]
    for l in range(n_layers):
        p = 'model.layers.%d.' % l
        tensors += [(p + 'input_layernorm.weight', (dim,)), (p + 'self_attn.q_proj.weight', (dim, dim)),
                    (p + 'self_attn.k_proj.weight', (kv, dim)), (p + 'self_attn.v_proj.weight', (kv, dim)),
                    (p + 'self_attn.o_proj.weight', (dim, dim)),
                    (p + 'post_attention_layernorm.weight', (dim,)),
                    (p + 'mlp.gate_proj.weight', (ffn, dim)), (p + 'mlp.up_proj.weight', (ffn, dim)),
                    (p + 'mlp.down_proj.weight', (dim, ffn))]
    # shards of about 5 GB, as Hugging Face saves them
    shards, cur, size = [], [], 0
    for name, shp in tensors:
        n = int(np.prod(shp)) * 2
        if cur and size + n > 5 << 30:
            shards.append(cur); cur, size = [], 0
        cur.append((name, shp)); size += n
    shards.append(cur)
    weight_map, seed = {}, 0
    for i, part in enumerate(shards):
        fname = 'model-%05d-of-%05d.safetensors' % (i + 1, len(shards))
        header, off = {}, 0
        for name, shp in part:
            n = int(np.prod(shp)) * 2
            header[name] = {'dtype': 'F16', 'shape': list(shp), 'data_offsets': [off, off + n]}
            off += n
            weight_map[name] = fname
        h = json.dumps(header).encode()
        h += b' ' * ((-len(h)) % 8)
        with open(os.path.join(out, fname), 'wb') as f:
            f.write(struct.pack('<Q', len(h)) + h)
            for name, shp in part:
                n = int(np.prod(shp))
                if len(shp) == 1:
                    f.write(np.ones(n, dtype='<f2').tobytes())
                    continue
                done = 0
                while done < n:
                    seed = (seed * 1103515245 + 12345) % (1 << 24)
                    k = min(n - done, 1 << 24)
                    f.write(block[seed:seed + k].tobytes())
                    done += k
    json.dump({'metadata': {}, 'weight_map': weight_map},
              open(os.path.join(out, 'model.safetensors.index.json'), 'w'))
    json.dump({'model_type': 'llama', 'architectures': ['LlamaForCausalLM'], 'hidden_size': dim,
               'intermediate_size': ffn, 'num_attention_heads': heads, 'num_key_value_heads': kv_heads,
               'num_hidden_layers': n_layers, 'rms_norm_eps': 1e-5, 'rope_theta': 10000.0,
               'max_position_embeddings': 4096, 'vocab_size': vocab, 'tie_word_embeddings': False,
               'hidden_act': 'silu'}, open(os.path.join(out, 'config.json'), 'w'))
    open(os.path.join(out, 'tokenizer.model'), 'wb').write(open(spm, 'rb').read())

main()

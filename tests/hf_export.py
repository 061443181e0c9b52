#!/usr/bin/python3
"""tests/hf_export.py — the test side of llp-convert: write Hugging Face
directories (and PEFT adapters) from models the project makes, and read
GGUF files back, with only Debian's python3, python3-numpy and
python3-sentencepiece.

Subcommands (run by tests/convert_roundtrip.t and tests/convert_lora.t):
  spm TEXT_DIR OUT_PREFIX VOCAB     train a SentencePiece BPE model like
                                    Llama-2's (byte fallback, identity
                                    normalizer, digits split)
  model GGUF SPM OUT_DIR [--shards N] [--dtype KEEP|F16|BF16|F32] [--tied]
                                    a HF directory: safetensors shards and
                                    index, config.json, tokenizer files; Q/K
                                    rows put back in HF's rotary layout
  tokjson SPM OUT_DIR               tokenizer.json (SentencePiece-style BPE,
                                    as transformers' LlamaConverter writes it)
  same A.gguf B.gguf                every tensor of A equal byte for byte in
                                    B (name, type, shape, data); prints a diff
  spm-ids SPM                       stdin JSON list of strings -> ids
  lora BASE.gguf OUT_DIR R ALPHA DTYPE MODULES   a random PEFT adapter
  lora-check PEFT_DIR ADAPTER.gguf  the GGUF adapter holds what the PEFT
                                    adapter means (permuted lora_B of q/k)
  rope-check                        llama.cpp's permute + adjacent-pair RoPE
                                    equals HF's rotate_half RoPE

Not for: anything at run time of the tools (llp-convert needs no Python).
"""
import json, os, struct, sys
import numpy as np

# ---- GGUF reading -----------------------------------------------------------
TYPE_SIZE = {0: 4, 1: 2, 30: 2}   # F32, F16, BF16 (others: bytes from block sizes)
BLOCK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
         8: (32, 34), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210)}
SCALAR = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}

def read_gguf(path):
    data = open(path, 'rb').read()
    pos = 0
    def take(fmt):
        nonlocal pos
        v = struct.unpack_from('<' + fmt, data, pos)
        pos += struct.calcsize('<' + fmt)
        return v[0] if len(v) == 1 else v
    def string():
        nonlocal pos
        n = take('Q'); s = data[pos:pos + n]; pos += n
        return s.decode('utf-8', 'surrogateescape')
    def value(t):
        if t == 8: return string()
        if t == 9:
            et = take('I'); n = take('Q')
            return [value(et) for _ in range(n)]
        return take(SCALAR[t])
    assert data[:4] == b'GGUF'
    pos = 4
    version = take('I'); n_t = take('Q'); n_kv = take('Q')
    kv = {}
    for _ in range(n_kv):
        k = string(); t = take('I'); kv[k] = (t, value(t))
    align = kv.get('general.alignment', (4, 32))[1]
    tensors = []
    for _ in range(n_t):
        name = string(); nd = take('I'); ne = [take('Q') for _ in range(nd)]
        typ = take('I'); off = take('Q')
        tensors.append((name, ne, typ, off))
    start = (pos + align - 1) // align * align
    out = {}
    for name, ne, typ, off in tensors:
        bs, ts = BLOCK[typ]
        n = 1
        for e in ne: n *= e
        nbytes = n // bs * ts
        out[name] = (ne, typ, data[start + off:start + off + nbytes])
    return kv, out

def as_array(ne, typ, raw):
    """Rows-first numpy array (uint16 for F16/BF16 raw bits, to keep them exact)."""
    shape = tuple(reversed(ne))
    if typ == 0: return np.frombuffer(raw, dtype='<f4').reshape(shape)
    return np.frombuffer(raw, dtype='<u2').reshape(shape)

# ---- permutation ------------------------------------------------------------
def permute(w, n_head):
    """llama.cpp's convert script: HF rows -> GGUF rows."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

def unpermute(w, n_head):
    """The inverse: GGUF rows -> HF rows."""
    idx = permute(np.arange(w.shape[0]), n_head)     # GGUF row r holds HF row idx[r]
    out = np.empty_like(w)
    out[idx] = w
    return out

# ---- safetensors writing ----------------------------------------------------
ST_DTYPE = {0: 'F32', 1: 'F16', 30: 'BF16'}

def write_safetensors(path, tensors):
    """tensors: list of (name, dtype_name, shape, raw bytes)."""
    header, off = {}, 0
    for name, dt, shape, raw in tensors:
        header[name] = {'dtype': dt, 'shape': list(shape), 'data_offsets': [off, off + len(raw)]}
        off += len(raw)
    header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((-len(h)) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h)
        for _, _, _, raw in tensors:
            f.write(raw)

def cast(ne, typ, raw, want):
    """Raw bytes of tensor converted exactly-when-possible to the type id `want`."""
    if want == typ: return raw
    a = as_array(ne, typ, raw)
    if typ == 0: f = a
    elif typ == 1: f = a.view('<f2').astype('<f4')
    else: f = (a.astype('<u4') << 16).view('<f4')
    if want == 0: return f.astype('<f4').tobytes()
    if want == 1: return f.astype('<f2').tobytes()
    u = f.astype('<f4').view('<u4')
    return ((u + 0x7fff + ((u >> 16) & 1)) >> 16).astype('<u2').tobytes()

HF_NAMES = {'attn_norm': 'input_layernorm', 'attn_q': 'self_attn.q_proj', 'attn_k': 'self_attn.k_proj',
            'attn_v': 'self_attn.v_proj', 'attn_output': 'self_attn.o_proj',
            'ffn_norm': 'post_attention_layernorm', 'ffn_gate': 'mlp.gate_proj',
            'ffn_up': 'mlp.up_proj', 'ffn_down': 'mlp.down_proj'}

def hf_name(gguf_name):
    if gguf_name == 'token_embd.weight': return 'model.embed_tokens.weight'
    if gguf_name == 'output_norm.weight': return 'model.norm.weight'
    if gguf_name == 'output.weight': return 'lm_head.weight'
    _, layer, what, _ = gguf_name.split('.')
    return 'model.layers.%s.%s.weight' % (layer, HF_NAMES[what])

def cmd_model(args):
    gguf, spm_path, out = args[:3]
    shards, dtype, tied = 2, 'KEEP', False
    rest = args[3:]
    while rest:
        if rest[0] == '--shards': shards = int(rest[1]); rest = rest[2:]
        elif rest[0] == '--dtype': dtype = rest[1]; rest = rest[2:]
        elif rest[0] == '--tied': tied = True; rest = rest[1:]
        else: sys.exit('unknown option ' + rest[0])
    kv, tensors = read_gguf(gguf)
    g = lambda k: kv[k][1]
    n_head, n_kv = g('llama.attention.head_count'), g('llama.attention.head_count_kv')
    os.makedirs(out, exist_ok=True)
    hf = []
    for name, (ne, typ, raw) in tensors.items():
        if tied and name == 'output.weight': continue
        want = {'KEEP': typ, 'F16': 1, 'BF16': 30, 'F32': 0}[dtype]
        if len(ne) == 1: want = typ                 # norms keep their type
        raw = cast(ne, typ, raw, want)
        if name.endswith('attn_q.weight') or name.endswith('attn_k.weight'):
            a = as_array(ne, want, raw)
            raw = unpermute(a, n_head if 'attn_q' in name else n_kv).tobytes()
        hf.append((hf_name(name), ST_DTYPE[want], tuple(reversed(ne)), raw))
    hf.sort(key=lambda t: t[0])
    per = (len(hf) + shards - 1) // shards
    weight_map = {}
    for s in range(shards):
        fname = 'model-%05d-of-%05d.safetensors' % (s + 1, shards)
        part = hf[s * per:(s + 1) * per]
        write_safetensors(os.path.join(out, fname), part)
        for t in part: weight_map[t[0]] = fname
    if shards > 1:
        json.dump({'metadata': {'total_size': sum(len(t[3]) for t in hf)}, 'weight_map': weight_map},
                  open(os.path.join(out, 'model.safetensors.index.json'), 'w'), indent=2)
    dim = g('llama.embedding_length')
    config = {
        'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_act': 'silu',
        'hidden_size': dim, 'intermediate_size': g('llama.feed_forward_length'),
        'num_attention_heads': n_head, 'num_key_value_heads': n_kv,
        'num_hidden_layers': g('llama.block_count'), 'rms_norm_eps': g('llama.attention.layer_norm_rms_epsilon'),
        'rope_theta': g('llama.rope.freq_base') if 'llama.rope.freq_base' in kv else 10000.0,
        'rope_scaling': None, 'max_position_embeddings': g('llama.context_length'),
        'vocab_size': len(g('tokenizer.ggml.tokens')), 'tie_word_embeddings': tied,
        'bos_token_id': 1, 'eos_token_id': 2, 'torch_dtype': 'float16',
    }
    json.dump(config, open(os.path.join(out, 'config.json'), 'w'), indent=2)
    if spm_path != '-':
        open(os.path.join(out, 'tokenizer.model'), 'wb').write(open(spm_path, 'rb').read())
    json.dump({'add_bos_token': True, 'add_eos_token': False, 'bos_token': '<s>',
               'eos_token': {'content': '</s>', 'lstrip': False}, 'unk_token': '<unk>', 'pad_token': None,
               'chat_template': "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}",
               'tokenizer_class': 'LlamaTokenizer'},
              open(os.path.join(out, 'tokenizer_config.json'), 'w'), indent=2)
    json.dump({'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>'},
              open(os.path.join(out, 'special_tokens_map.json'), 'w'), indent=2)

def cmd_spm(args):
    import sentencepiece as spm, io, glob
    text_dir, prefix, vocab = args[0], args[1], int(args[2])
    lines = []
    for p in sorted(glob.glob(os.path.join(text_dir, '*'))):
        lines += [l for l in open(p, encoding='utf-8', errors='replace').read().split('\n') if l.strip()]
    lines += ['日本語のテキストと中文文本', 'emoji 🙂 and 🚀 rockets', 'tabs\tand  double  spaces']
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=prefix, vocab_size=vocab, model_type='bpe',
        byte_fallback=True, normalization_rule_name='identity', remove_extra_whitespaces=False,
        split_digits=True, allow_whitespace_only_pieces=True, character_coverage=0.9995,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2,
        max_sentence_length=100000)

def cmd_tokjson(args):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=args[0])
    n = sp.get_piece_size()
    vocab = {sp.id_to_piece(i): i for i in range(n)}
    scores = {sp.id_to_piece(i): sp.get_score(i) for i in range(n)}
    # transformers' SentencePieceExtractor: every split of a piece into two
    # pieces is a merge, ordered by the merged piece's id (score order)
    merges = []
    for piece, pid in vocab.items():
        if sp.is_byte(pid) or sp.is_control(pid) or sp.is_unknown(pid): continue
        for k in range(1, len(piece)):
            a, b = piece[:k], piece[k:]
            if a in vocab and b in vocab:
                merges.append((pid, vocab[a], vocab[b], a, b))
    merges.sort()
    tj = {
        'version': '1.0',
        'added_tokens': [{'id': i, 'content': sp.id_to_piece(i), 'special': True, 'single_word': False,
                          'lstrip': False, 'rstrip': False, 'normalized': False} for i in range(3)],
        'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': '\u2581'},
                       {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '\u2581'}]},
        'pre_tokenizer': None,
        'decoder': {'type': 'Sequence', 'decoders': [{'type': 'ByteFallback'}, {'type': 'Fuse'}]},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'byte_fallback': True,
                  'fuse_unk': True, 'vocab': vocab, 'merges': ['%s %s' % (m[3], m[4]) for m in merges]},
    }
    os.makedirs(args[1], exist_ok=True)
    json.dump(tj, open(os.path.join(args[1], 'tokenizer.json'), 'w'), ensure_ascii=False)

def cmd_same(args):
    _, a = read_gguf(args[0]); _, b = read_gguf(args[1])
    bad = 0
    for name, (ne, typ, raw) in a.items():
        if name not in b: print('missing in %s: %s' % (args[1], name)); bad += 1; continue
        ne2, typ2, raw2 = b[name]
        if (ne, typ) != (ne2, typ2): print('%s: ne/type %s %d vs %s %d' % (name, ne, typ, ne2, typ2)); bad += 1
        elif raw != raw2: print('%s: data differs' % name); bad += 1
    for name in b:
        if name not in a: print('extra in %s: %s' % (args[1], name)); bad += 1
    print('same' if bad == 0 else '%d differences' % bad)

def cmd_spm_ids(args):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=args[0])
    for s in json.load(sys.stdin):
        print(' '.join(str(i) for i in [sp.bos_id()] + sp.encode(s)))

def cmd_meta_same(args):
    """meta-same A B PREFIX: every key of A starting with PREFIX has the same
    type and value in B."""
    a, _ = read_gguf(args[0]); b, _ = read_gguf(args[1])
    diff = [k for k in a if k.startswith(args[2]) and a[k] != b.get(k)]
    print('same' if not diff else 'differ: ' + ' '.join(diff))

def cmd_meta(args):
    kv, _ = read_gguf(args[0])
    for k in args[1:]:
        print('%s=%s' % (k, json.dumps(kv[k][1]) if k in kv else '(absent)'))

def cmd_vocab_tail(args):
    kv, _ = read_gguf(args[0])
    k = int(args[1])
    toks, types = kv['tokenizer.ggml.tokens'][1], kv['tokenizer.ggml.token_type'][1]
    print(len(toks), toks[k], toks[-1], ','.join(str(t) for t in sorted(set(types[k:]))))

# ---- adapters -----------------------------------------------------------------
MODULE_GGUF = {'q_proj': 'attn_q', 'k_proj': 'attn_k', 'v_proj': 'attn_v', 'o_proj': 'attn_output',
               'gate_proj': 'ffn_gate', 'up_proj': 'ffn_up', 'down_proj': 'ffn_down'}
MODULE_HF = {'q_proj': 'self_attn', 'k_proj': 'self_attn', 'v_proj': 'self_attn', 'o_proj': 'self_attn',
             'gate_proj': 'mlp', 'up_proj': 'mlp', 'down_proj': 'mlp'}

def cmd_lora(args):
    base, out, r, alpha, dtype, modules = args[0], args[1], int(args[2]), float(args[3]), args[4], args[5].split(',')
    kv, tensors = read_gguf(base)
    rng = np.random.default_rng(7)
    n_layers = kv['llama.block_count'][1]
    np_dt = {'F32': '<f4', 'F16': '<f2'}[dtype]
    st = []
    for l in range(n_layers):
        for m in modules:
            ne = tensors['blk.%d.%s.weight' % (l, MODULE_GGUF[m])][0]
            n_in, n_out = ne[0], ne[1]
            a = rng.standard_normal((r, n_in)).astype(np_dt)
            b = rng.standard_normal((n_out, r)).astype(np_dt)
            pre = 'base_model.model.model.layers.%d.%s.%s' % (l, MODULE_HF[m], m)
            st.append((pre + '.lora_A.weight', dtype, a.shape, a.tobytes()))
            st.append((pre + '.lora_B.weight', dtype, b.shape, b.tobytes()))
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, 'adapter_model.safetensors'), st)
    json.dump({'peft_type': 'LORA', 'r': r, 'lora_alpha': alpha, 'target_modules': modules,
               'bias': 'none', 'fan_in_fan_out': False, 'task_type': 'CAUSAL_LM',
               'base_model_name_or_path': base}, open(os.path.join(out, 'adapter_config.json'), 'w'))

def read_safetensors(path):
    data = open(path, 'rb').read()
    n = struct.unpack_from('<Q', data)[0]
    h = json.loads(data[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        b, e = v['data_offsets']
        out[k] = (v['dtype'], v['shape'], data[8 + n + b:8 + n + e])
    return out

def cmd_lora_check(args):
    peft, adapter = args
    cfg = json.load(open(os.path.join(peft, 'adapter_config.json')))
    st = read_safetensors(os.path.join(peft, 'adapter_model.safetensors'))
    kv, tensors = read_gguf(adapter)
    bad = []
    want_meta = {'general.type': 'adapter', 'general.architecture': 'llama', 'adapter.type': 'lora'}
    for k, v in want_meta.items():
        if kv.get(k, (0, None))[1] != v: bad.append('%s is %r' % (k, kv.get(k)))
    if abs(kv.get('adapter.lora.alpha', (0, -1))[1] - cfg['lora_alpha']) > 1e-6: bad.append('alpha')
    base_kv, _ = read_gguf(cfg['base_model_name_or_path'])
    n_head = base_kv['llama.attention.head_count'][1]
    n_kv = base_kv.get('llama.attention.head_count_kv', (0, n_head))[1]
    seen = set()
    for name, (dt, shape, raw) in st.items():
        parts = name.split('.')
        layer, module, ab = parts[4], parts[6], parts[7]
        g = 'blk.%s.%s.weight.lora_%s' % (layer, MODULE_GGUF[module], ab[-1].lower())
        seen.add(g)
        if g not in tensors: bad.append('missing ' + g); continue
        ne, typ, got = tensors[g]
        typ_want = {'F32': 0, 'F16': 1}[dt]
        if typ != typ_want or ne != list(reversed(shape)): bad.append('%s: type %d ne %s' % (g, typ, ne)); continue
        want = raw
        if ab == 'lora_B' and module in ('q_proj', 'k_proj'):
            a = np.frombuffer(raw, dtype={'F32': '<f4', 'F16': '<u2'}[dt]).reshape(shape)
            want = permute(a, n_head if module == 'q_proj' else n_kv).tobytes()
        if got != want: bad.append('%s: data differs' % g)
    for name in tensors:
        if name not in seen: bad.append('extra ' + name)
    print('ok' if not bad else '; '.join(bad[:5]))

# ---- small hand-made directories, good and bad ------------------------------------
def pb_varint(v):
    v &= (1 << 64) - 1
    out = b''
    while True:
        b = v & 0x7f; v >>= 7
        if v: out += bytes([b | 0x80])
        else: return out + bytes([b])

def pb_field(num, wire, payload):
    key = pb_varint(num << 3 | wire)
    if wire == 2: return key + pb_varint(len(payload)) + payload
    return key + payload

def tiny_spm(pieces, model_type=2):
    """A SentencePiece ModelProto by hand: pieces (text, score, type)."""
    out = b''
    for text, score, typ in pieces:
        p = pb_field(1, 2, text.encode()) + pb_field(2, 5, struct.pack('<f', score)) + pb_field(3, 0, pb_varint(typ))
        out += pb_field(1, 2, p)
    trainer = pb_field(3, 0, pb_varint(model_type)) + pb_field(35, 0, pb_varint(1))
    normalizer = pb_field(1, 2, b'identity') + pb_field(3, 0, pb_varint(1)) + pb_field(4, 0, pb_varint(0))
    return out + pb_field(2, 2, trainer) + pb_field(3, 2, normalizer)

TINY = dict(dim=32, heads=2, kv=2, ffn=64, layers=1, vocab=8)

def tiny_tensors():
    d, f, v = TINY['dim'], TINY['ffn'], TINY['vocab']
    shapes = [('model.embed_tokens.weight', (v, d)), ('model.norm.weight', (d,)), ('lm_head.weight', (v, d))]
    p = 'model.layers.0.'
    shapes += [(p + 'input_layernorm.weight', (d,)), (p + 'self_attn.q_proj.weight', (d, d)),
               (p + 'self_attn.k_proj.weight', (d, d)), (p + 'self_attn.v_proj.weight', (d, d)),
               (p + 'self_attn.o_proj.weight', (d, d)), (p + 'post_attention_layernorm.weight', (d,)),
               (p + 'mlp.gate_proj.weight', (f, d)), (p + 'mlp.up_proj.weight', (f, d)),
               (p + 'mlp.down_proj.weight', (d, f))]
    out = []
    for i, (name, shp) in enumerate(shapes):
        n = int(np.prod(shp))
        out.append([name, 'F32', shp, (np.arange(n, dtype='<f4') * 0.01 + i).tobytes()])
    return out

def cmd_spm_from_gguf(args):
    """spm-from-gguf GGUF OUT: the GGUF vocabulary as a SentencePiece
    tokenizer.model (BPE, byte fallback, identity normalizer), which the
    sentencepiece package loads."""
    kv, _ = read_gguf(args[0])
    toks, scores, types = (kv['tokenizer.ggml.' + k][1] for k in ('tokens', 'scores', 'token_type'))
    open(args[1], 'wb').write(tiny_spm(list(zip(toks, scores, types))))

def cmd_tiny(args):
    """tiny OUT [BREAK] [--vocab N --spm FILE]: a small valid Llama
    directory, or one broken as BREAK says."""
    spm_file = None
    if '--vocab' in args:
        i = args.index('--vocab'); TINY['vocab'] = int(args[i + 1]); del args[i:i + 2]
    if '--spm' in args:
        i = args.index('--spm'); spm_file = args[i + 1]; del args[i:i + 2]
    out, brk = args[0], args[1] if len(args) > 1 else ''
    os.makedirs(out, exist_ok=True)
    config = {'model_type': 'llama', 'hidden_size': TINY['dim'], 'intermediate_size': TINY['ffn'],
              'num_attention_heads': TINY['heads'], 'num_key_value_heads': TINY['kv'],
              'num_hidden_layers': TINY['layers'], 'rms_norm_eps': 1e-5, 'max_position_embeddings': 64,
              'vocab_size': TINY['vocab'], 'tie_word_embeddings': False}
    if brk == 'no-field': del config['hidden_size']
    if brk == 'heads': config['hidden_size'] = 33
    if brk == 'kv-heads': config['num_key_value_heads'] = 3
    if brk == 'arch': config['model_type'] = 'mistral'
    if brk == 'rope-scaling': config['rope_scaling'] = {'rope_type': 'yarn', 'factor': 4.0}
    json.dump(config, open(os.path.join(out, 'config.json'), 'w'))
    pieces = [('<unk>', 0, 2), ('<s>', 0, 3), ('</s>', 0, 3), ('\u2581a', -1, 1), ('a', -2, 1), ('b', -3, 1)]
    if brk == 'unigram':
        open(os.path.join(out, 'tokenizer.model'), 'wb').write(tiny_spm(pieces, model_type=1))
    elif brk == 'gpt2-json':
        json.dump({'model': {'type': 'BPE', 'byte_fallback': False, 'vocab': {'a': 0, 'b': 1}, 'merges': []},
                   'pre_tokenizer': {'type': 'ByteLevel', 'add_prefix_space': False}},
                  open(os.path.join(out, 'tokenizer.json'), 'w'))
    elif spm_file:
        open(os.path.join(out, 'tokenizer.model'), 'wb').write(open(spm_file, 'rb').read())
    elif brk == 'bad-spm':
        open(os.path.join(out, 'tokenizer.model'), 'wb').write(tiny_spm(pieces)[:-5])
    else:
        open(os.path.join(out, 'tokenizer.model'), 'wb').write(tiny_spm(pieces))
    ts = tiny_tensors()
    if brk == 'shape': ts[4][2] = (32, 6); ts[4][3] = ts[4][3][:32 * 6 * 4]
    if brk == 'missing': del ts[11]
    if brk == 'nan':
        a = np.frombuffer(ts[10][3], dtype='<f4').copy(); a[77] = np.nan; ts[10][3] = a.tobytes()
    if brk == 'extra': ts.append(['model.layers.0.mlp.bias', 'F32', (8,), b'\0' * 32])
    path = os.path.join(out, 'model.safetensors')
    if brk == 'dtype':
        ts[1] = [ts[1][0], 'I64', (8,), b'\0' * 64]
    write_safetensors(path, [tuple(t) for t in ts])
    data = open(path, 'rb').read()
    n = struct.unpack_from('<Q', data)[0]
    if brk == 'truncated':
        data = data[:len(data) - 100]
    if brk in ('overlap', 'past-end', 'header-len'):
        h = json.loads(data[8:8 + n])
        if brk == 'overlap':
            h['model.norm.weight']['data_offsets'] = [o - 16 for o in h['model.norm.weight']['data_offsets']]
        if brk == 'past-end':
            h['model.layers.0.mlp.up_proj.weight']['data_offsets'][1] += 1 << 20
        hb = json.dumps(h).encode()
        hb += b' ' * ((-len(hb)) % 8)
        data = struct.pack('<Q', len(hb)) + hb + data[8 + n:]
        if brk == 'header-len':
            data = struct.pack('<Q', 1 << 40) + data[8:]
    open(path, 'wb').write(data)

def cmd_vectors(args):
    """vectors INP OUT: llama.cpp's tokenizer test vectors as JSON lines
    {"id", "text"} on stdout, the expected ids (no BOS) in OUT."""
    raw = open(args[0], encoding='utf-8').read()
    texts = raw.split('\n__ggml_vocab_test__\n')
    if texts and texts[-1] == '': texts.pop()
    for i, t in enumerate(texts):
        print(json.dumps({'id': str(i), 'text': t}))
    with open(args[1], 'w') as f:
        f.write(str(len(texts)) + '\n')

def cmd_lora_merge(args):
    """lora-merge PEFT_DIR HF_DIR OUT_DIR: the HF model with the adapter
    merged in (W + alpha/r * B A, float64 products, F32 weights), the way
    PEFT's merge_and_unload does it."""
    peft, hf, out = args
    cfg = json.load(open(os.path.join(peft, 'adapter_config.json')))
    scale = cfg['lora_alpha'] / cfg['r']
    ad = read_safetensors(os.path.join(peft, 'adapter_model.safetensors'))
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(hf):
        src = os.path.join(hf, f)
        if not f.endswith('.safetensors'):
            open(os.path.join(out, f), 'wb').write(open(src, 'rb').read()); continue
        ts = []
        for name, (dt, shape, raw) in read_safetensors(src).items():
            assert dt == 'F32'
            key = 'base_model.model.' + name[:-len('.weight')]
            if key + '.lora_A.weight' in ad:
                a = np.frombuffer(ad[key + '.lora_A.weight'][2], dtype='<f4').reshape(ad[key + '.lora_A.weight'][1])
                b = np.frombuffer(ad[key + '.lora_B.weight'][2], dtype='<f4').reshape(ad[key + '.lora_B.weight'][1])
                w = np.frombuffer(raw, dtype='<f4').reshape(shape).astype('f8') + scale * (b.astype('f8') @ a.astype('f8'))
                raw = w.astype('<f4').tobytes()
            ts.append((name, dt, shape, raw))
        write_safetensors(os.path.join(out, f), ts)

def cmd_lora_merge_check(args):
    """lora-merge-check BASE.gguf ADAPTER.gguf MERGED.gguf: merging the GGUF
    adapter into the GGUF base (W + alpha/r * lora_b lora_a) gives MERGED's
    weights (the HF merge, converted): the adapter's rows are permuted as
    the model's are. Prints ok, or the worst tensor."""
    _, base = read_gguf(args[0]); kv, ad = read_gguf(args[1]); _, merged = read_gguf(args[2])
    alpha = kv['adapter.lora.alpha'][1]
    worst, n = (0.0, ''), 0
    for name, (ne, typ, raw) in base.items():
        w = as_array(ne, typ, raw).astype('f8')
        if name + '.lora_a' in ad:
            a = as_array(*ad[name + '.lora_a']).astype('f8'); b = as_array(*ad[name + '.lora_b']).astype('f8')
            w = w + alpha / a.shape[0] * (b @ a)
            n += 1
        m = as_array(*merged[name]).astype('f8')
        d = np.abs(w.astype('<f4') - m).max() / (np.abs(m).max() + 1e-30)
        if d > worst[0]: worst = (d, name)
    print('ok' if n and worst[0] <= 1e-6 else '%d merged, worst %s: %g' % (n, worst[1], worst[0]))

# ---- the RoPE convention ----------------------------------------------------------
def cmd_rope_check(args):
    """HF: q = W x, rotate_half RoPE (pairs i, i + d/2). GGUF: q' = permute(W) x,
    adjacent-pair RoPE (pairs 2i, 2i+1). q' must be q with the same row
    permutation, at every position."""
    rng = np.random.default_rng(3)
    n_head, d, n_in = 4, 16, 24
    W = rng.standard_normal((n_head * d, n_in))
    x = rng.standard_normal(n_in)
    inv = 10000.0 ** (-np.arange(0, d, 2) / d)
    worst = 0.0
    for pos in (0, 1, 5, 37):
        ang = pos * inv
        q = (W @ x).reshape(n_head, d)
        cos = np.concatenate([np.cos(ang)] * 2); sin = np.concatenate([np.sin(ang)] * 2)
        rot = np.concatenate([-q[:, d // 2:], q[:, :d // 2]], axis=1)
        hf = (q * cos + rot * sin).reshape(-1)
        qp = (permute(W, n_head) @ x).reshape(n_head, d // 2, 2)
        c, s = np.cos(ang), np.sin(ang)
        gg = np.stack([qp[..., 0] * c - qp[..., 1] * s, qp[..., 0] * s + qp[..., 1] * c], axis=-1).reshape(-1)
        worst = max(worst, np.abs(permute(hf.reshape(-1, 1), n_head).reshape(-1) - gg).max())
    print('ok' if worst < 1e-9 else 'differs by %g' % worst)

if __name__ == '__main__':
    cmds = {'model': cmd_model, 'spm': cmd_spm, 'tokjson': cmd_tokjson, 'same': cmd_same,
            'spm-ids': cmd_spm_ids, 'meta': cmd_meta, 'lora': cmd_lora, 'lora-check': cmd_lora_check,
            'rope-check': cmd_rope_check, 'vocab-tail': cmd_vocab_tail, 'tiny': cmd_tiny, 'lora-merge': cmd_lora_merge, 'lora-merge-check': cmd_lora_merge_check, 'meta-same': cmd_meta_same, 'spm-from-gguf': cmd_spm_from_gguf,
            'vectors': lambda a: cmd_vectors(a)}
    cmds[sys.argv[1]](sys.argv[2:])

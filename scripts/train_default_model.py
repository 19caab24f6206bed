#!/usr/bin/env python3
"""Train mlxc's default model (models/kjv-small): a small Llama on the King James Bible.

Two steps, on two machines:

1. prepare (the dev machine, Debian 12; standard library only). The corpus is Debian's
   `bible-kjv-text` package (public domain KJV text), read through the `bible` program of
   the `bible-kjv` package:

       apt-get install -y bible-kjv-text bible-kjv
       /usr/bin/python3 scripts/train_default_model.py prepare --out .train/kjv.txt

   writes one chapter per block: a "Book N" header line, then one verse per line (verse
   numbers dropped), blocks separated by a blank line.

2. train (a CUDA machine with torch, transformers and tokenizers; no network needed):

       python3 scripts/train_default_model.py train --corpus .train/kjv.txt \
           --out models/kjv-small --report train_report.json --budget 200

   trains the byte-level BPE tokenizer (`tokenizers`), then the model (LlamaForCausalLM,
   bf16 autocast, AdamW, cosine schedule). Because the corpus is small (~1M tokens) and a
   4M-parameter model can memorise much of it, the run is a short sweep over training
   lengths (epochs), each from the same seed, stopped once a longer run no longer lowers
   the held-out loss; the checkpoint with the lowest held-out loss is exported. Before the
   sweep, a dry pass exports, reloads, samples and computes the reference after a few
   steps, so an export bug costs seconds rather than the whole run.

   models/kjv-small was made this way on one H200 in one call of the project's device
   tool, with .train/ carried along: about 110 s of wall time, 96 s of it training; the
   numbers are in models/kjv-small/README.md.

Exported files: config.json, model.safetensors (bf16, HF names, embeddings tied),
generation_config.json, tokenizer.json, tokenizer_config.json, and reference.json: for a
fixed prompt, its token ids, the first-step logits (all, and the top 10) and a 32-token
greedy continuation, computed by transformers in float32 on the CPU from the saved bf16
weights (the numbers a C implementation reading the same files in f32 must reproduce).
"""

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

SEED = 1611
BOS, EOS = "<s>", "</s>"

# Sized so that model.safetensors (bf16) plus the tokenizer stay under 8 MB.
MODEL = dict(
    vocab_size=3072,
    hidden_size=256,
    intermediate_size=512,
    num_hidden_layers=5,
    num_attention_heads=8,
    num_key_value_heads=4,
    head_dim=32,
    max_position_embeddings=512,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    tie_word_embeddings=True,
    hidden_act="silu",
    attention_bias=False,
    mlp_bias=False,
    initializer_range=0.02,
    bos_token_id=0,
    eos_token_id=1,
)
SEQ_LEN = 512
BATCH = 64
LR = 2e-3
MIN_LR_FRAC = 0.1
WEIGHT_DECAY = 0.1
EPOCH_SWEEP = [8, 16, 32, 64]
VAL_EVERY_NTH_CHAPTER = 40  # chapters 39, 79, ... are held out (~30 chapters)
MAX_BYTES = 8_000_000

REF_PROMPT = "And it came to pass, when"
SAMPLE_PROMPTS = [
    "In the beginning",
    "And it came to pass, when",
    "The LORD is my shepherd",
    "Blessed are the",
    "Psalms 151\n",
    "And Jesus said unto them,",
]
GEN = dict(do_sample=True, temperature=0.8, top_p=0.95)


# ----------------------------------------------------------------------------- prepare
def prepare(args):
    raw = subprocess.run(["bible", "-l100000", "gen1:1-rev22:21"], check=True,
                         capture_output=True, text=True).stdout
    chapters, cur = [], None
    head = re.compile(r"^(\S.*) (\d+)$")
    verse = re.compile(r"^\s+(\d+) (.*)$")
    for line in raw.splitlines():
        if not line.strip():
            continue
        m = head.match(line)
        if m:
            cur = [line.strip()]
            chapters.append(cur)
            continue
        m = verse.match(line)
        if not m or cur is None:
            sys.exit(f"prepare: unexpected line from bible: {line!r}")
        cur.append(m.group(2).strip())
    nverses = sum(len(c) - 1 for c in chapters)
    if len(chapters) != 1189 or nverses != 31102:
        sys.exit(f"prepare: expected 1189 chapters / 31102 verses, got {len(chapters)} / {nverses}")
    text = "\n\n".join("\n".join(c) for c in chapters) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    ver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "bible-kjv-text"],
                         capture_output=True, text=True).stdout.strip()
    meta = dict(package="bible-kjv-text", version=ver, chapters=len(chapters), verses=nverses,
                bytes=len(text.encode()), sha256=hashlib.sha256(text.encode()).hexdigest())
    with open(os.path.splitext(args.out)[0] + ".meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


# ----------------------------------------------------------------------------- train
def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)


def train_tokenizer(train_docs):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=MODEL["vocab_size"], min_frequency=2,
                                  special_tokens=[BOS, EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(train_docs, trainer=trainer, length=len(train_docs))
    assert tok.token_to_id(BOS) == 0 and tok.token_to_id(EOS) == 1
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, 0)])
    return tok


def tokenizer_config():
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": EOS,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": MODEL["max_position_embeddings"],
        # a generic fast tokenizer would also return token_type_ids, which Llama rejects
        "model_input_names": ["input_ids", "attention_mask"],
    }


def make_config():
    from transformers import LlamaConfig
    cfg = LlamaConfig(**MODEL)
    cfg.use_cache = True
    return cfg


def export(state, tok, outdir):
    """Saves the model (bf16) and tokenizer; returns the list of files."""
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM
    import tempfile
    stage = tempfile.mkdtemp(prefix="train-stage-")
    model = LlamaForCausalLM(make_config())
    model.load_state_dict(state)
    model = model.to(torch.bfloat16)
    model.generation_config = GenerationConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1,
                                               max_new_tokens=200, **GEN)
    model.save_pretrained(stage)
    os.makedirs(outdir, exist_ok=True)
    # config.json: HF writes only values that differ from its defaults (it may drop
    # tie_word_embeddings) and newer versions move rope_theta into rope_parameters;
    # readers other than transformers expect the plain fields, so they are set explicitly.
    with open(os.path.join(stage, "config.json")) as f:
        cfg = json.load(f)
    cfg.update(MODEL)
    cfg["architectures"] = ["LlamaForCausalLM"]
    cfg["model_type"] = "llama"
    cfg.setdefault("torch_dtype", "bfloat16")
    cfg["dtype"] = "bfloat16"
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    for name in ("model.safetensors", "generation_config.json"):
        shutil.copyfile(os.path.join(stage, name), os.path.join(outdir, name))
    tok.save(os.path.join(outdir, "tokenizer.json"), pretty=True)
    with open(os.path.join(outdir, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(), f, indent=2)
        f.write("\n")
    shutil.rmtree(stage, ignore_errors=True)

    from safetensors import safe_open
    with safe_open(os.path.join(outdir, "model.safetensors"), "pt") as f:
        keys = sorted(f.keys())
        dtypes = {str(f.get_tensor(k).dtype) for k in keys}
    L = MODEL["num_hidden_layers"]
    want = {"model.embed_tokens.weight", "model.norm.weight"}
    for i in range(L):
        p = f"model.layers.{i}."
        want |= {p + s + ".weight" for s in (
            "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
            "input_layernorm", "post_attention_layernorm")}
    if set(keys) != want or dtypes != {"torch.bfloat16"}:
        raise RuntimeError(f"export: unexpected tensors {sorted(set(keys) ^ want)} dtypes {dtypes}")
    return sorted(os.listdir(outdir))


def load_exported(outdir, device, dtype, attn="eager"):
    import torch
    from transformers import LlamaForCausalLM
    try:
        m = LlamaForCausalLM.from_pretrained(outdir, dtype=dtype, attn_implementation=attn)
    except TypeError:
        m = LlamaForCausalLM.from_pretrained(outdir, torch_dtype=dtype, attn_implementation=attn)
    m = m.to(device).eval()
    # the reloaded config must give theta 10000 rotary frequencies and tied embeddings
    hd = MODEL["head_dim"]
    want = 1.0 / (MODEL["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    rot = getattr(getattr(m.model, "rotary_emb", None), "inv_freq", None)
    inv = want if rot is None else rot.float().cpu()
    if rot is None:
        print("warning: no model.rotary_emb.inv_freq to check", flush=True)
    if not torch.allclose(inv, want, rtol=1e-6):
        raise RuntimeError(f"reload: rotary inv_freq {inv[:4]} != {want[:4]}")
    if m.lm_head.weight.data_ptr() != m.model.embed_tokens.weight.data_ptr():
        raise RuntimeError("reload: lm_head is not tied to embed_tokens")
    return m


def hf_tokenizer(outdir, tok):
    from transformers import AutoTokenizer
    t = AutoTokenizer.from_pretrained(outdir)
    for p in [REF_PROMPT] + SAMPLE_PROMPTS:
        a = t(p)["input_ids"]
        b = tok.encode(p).ids
        if a != b or a[0] != 0 or (len(a) > 1 and a[1] == 0):
            raise RuntimeError(f"tokenizer mismatch for {p!r}: transformers {a} tokenizers {b}")
    return t


def reference(outdir, tok):
    """float32 CPU reference from the exported files."""
    import torch
    torch.set_num_threads(min(8, os.cpu_count() or 1))
    t = hf_tokenizer(outdir, tok)
    m = load_exported(outdir, "cpu", torch.float32, attn="eager")
    ids = t(REF_PROMPT)["input_ids"]
    with torch.no_grad():
        x = torch.tensor([ids])
        logits0 = m(input_ids=x, use_cache=False).logits[0, -1].float()
        top = torch.topk(logits0, 10)
        seq, margins = list(ids), []
        for _ in range(32):  # greedy without cache; continues past EOS by design
            lg = m(input_ids=torch.tensor([seq]), use_cache=False).logits[0, -1].float()
            t2 = torch.topk(lg, 2)
            seq.append(int(t2.indices[0]))
            margins.append(float(t2.values[0] - t2.values[1]))
        gen = seq[len(ids):]
        # cross-check the cache path of generate
        g = m.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=32,
                       min_new_tokens=32, pad_token_id=1)[0, len(ids):].tolist()
    return {
        "prompt": REF_PROMPT,
        "prompt_ids": ids,
        "dtype": "float32 compute from bf16 weights (transformers, CPU, eager attention)",
        "first_step_top10_ids": [int(i) for i in top.indices],
        "first_step_top10_logits": [float(v) for v in top.values],
        "first_step_logits": [float(f"{v:.8g}") for v in logits0.tolist()],
        "greedy_ids": gen,
        "greedy_text": t.decode(gen),
        "greedy_top1_margins": [round(v, 6) for v in margins],
        "generate_cached_greedy_ids_equal": g == gen,
    }


def samples(outdir, tok, device, n_new=120):
    import torch
    t = hf_tokenizer(outdir, tok)
    m = load_exported(outdir, device, torch.float32, attn="sdpa")
    out = []
    for i, p in enumerate(SAMPLE_PROMPTS):
        enc = t(p, return_tensors="pt").to(device)
        torch.manual_seed(SEED + i)
        with torch.no_grad():
            g = m.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                           max_new_tokens=n_new, pad_token_id=1, **GEN)
        out.append({"prompt": p, "seed": SEED + i, **GEN,
                    "text": t.decode(g[0], skip_special_tokens=True)})
    with torch.no_grad():
        enc = t(SAMPLE_PROMPTS[0], return_tensors="pt").to(device)
        g = m.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                       max_new_tokens=60, do_sample=False, pad_token_id=1)
    out.append({"prompt": SAMPLE_PROMPTS[0], "greedy": True,
                "text": t.decode(g[0], skip_special_tokens=True)})
    return out


def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def train(args):
    import torch
    import torch.nn.functional as F
    from transformers import LlamaForCausalLM
    import transformers, tokenizers

    t_start = time.time()
    torch.manual_seed(SEED)
    dev = "cuda"
    log("torch", torch.__version__, "transformers", transformers.__version__,
        "tokenizers", tokenizers.__version__, torch.cuda.get_device_name(0))
    text = open(args.corpus, encoding="utf-8").read()
    chapters = text.strip("\n").split("\n\n")
    assert len(chapters) == 1189, len(chapters)
    val_idx = set(range(VAL_EVERY_NTH_CHAPTER - 1, len(chapters), VAL_EVERY_NTH_CHAPTER))
    train_docs = [c for i, c in enumerate(chapters) if i not in val_idx]
    val_docs = [c for i, c in enumerate(chapters) if i in val_idx]
    corpus_meta = dict(sha256=hashlib.sha256(text.encode()).hexdigest(), bytes=len(text.encode()),
                       chapters=len(chapters), val_chapters=len(val_docs))
    meta_path = os.path.splitext(args.corpus)[0] + ".meta.json"
    if os.path.exists(meta_path):
        corpus_meta.update({k: v for k, v in json.load(open(meta_path)).items()
                            if k in ("package", "version")})

    t0 = time.time()
    tok = train_tokenizer(train_docs)
    def stream(docs):
        ids = []
        for e in tok.encode_batch(docs, add_special_tokens=False):
            ids += [0] + e.ids + [1]
        return torch.tensor(ids, dtype=torch.long)
    tr, va = stream(train_docs), stream(val_docs)
    log(f"tokenizer: vocab {tok.get_vocab_size()} in {time.time()-t0:.1f}s; train tokens "
        f"{len(tr)}, val tokens {len(va)}, bytes/token {len(text.encode())/(len(tr)+len(va)):.2f}")
    assert tok.get_vocab_size() == MODEL["vocab_size"]
    tr_gpu = tr.to(dev)
    nval = (len(va) - 1) // SEQ_LEN
    va_x = torch.stack([va[i*SEQ_LEN:(i+1)*SEQ_LEN] for i in range(nval)]).to(dev)
    va_y = torch.stack([va[i*SEQ_LEN+1:(i+1)*SEQ_LEN+1] for i in range(nval)]).to(dev)
    steps_per_epoch = len(tr) / (BATCH * SEQ_LEN)
    # fixed training windows for the final train-loss figure
    g = torch.Generator().manual_seed(SEED + 7)
    fix_off = torch.randint(0, len(tr) - SEQ_LEN - 1, (128,), generator=g)
    trf_x = torch.stack([tr[o:o+SEQ_LEN] for o in fix_off]).to(dev)
    trf_y = torch.stack([tr[o+1:o+SEQ_LEN+1] for o in fix_off]).to(dev)

    def loss_on(model, X, Y, bf16=True):
        model.eval()
        tot = 0.0
        with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, enabled=bf16):
            for i in range(0, len(X), 32):
                lg = model(input_ids=X[i:i+32], use_cache=False).logits.float()
                tot += F.cross_entropy(lg.reshape(-1, lg.shape[-1]), Y[i:i+32].reshape(-1),
                                       reduction="sum").item()
        model.train()
        return tot / Y.numel()

    def run(total_steps, label, dry=False):
        torch.manual_seed(SEED)
        model = LlamaForCausalLM(make_config()).to(dev)
        model.config.use_cache = False
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
        nparam = sum(p.numel() for p in model.parameters())
        decay = [p for p in model.parameters() if p.dim() >= 2]
        nodecay = [p for p in model.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                                 {"params": nodecay, "weight_decay": 0.0}],
                                lr=LR, betas=(0.9, 0.95), eps=1e-8, fused=True)
        warm = max(1, min(100, total_steps // 20))
        def lr_at(s):
            if s < warm:
                return LR * (s + 1) / warm
            p = (s - warm) / max(1, total_steps - warm)
            return LR * (MIN_LR_FRAC + (1 - MIN_LR_FRAC) * 0.5 * (1 + math.cos(math.pi * p)))
        gen = torch.Generator(device=dev).manual_seed(SEED)
        n_eval = 8
        eval_at = {int(total_steps * k / n_eval) for k in range(n_eval // 2, n_eval + 1)}
        best = (float("inf"), None, -1)
        # mean training loss since the last evaluation, summed on the GPU to avoid a sync per step
        acc, nacc, last_train, t_run = torch.zeros((), device=dev), 0, float("nan"), time.time()
        for s in range(total_steps):
            for grp in opt.param_groups:
                grp["lr"] = lr_at(s)
            off = torch.randint(0, len(tr_gpu) - SEQ_LEN - 1, (BATCH,), device=dev, generator=gen)
            idx = off[:, None] + torch.arange(SEQ_LEN + 1, device=dev)[None]
            w = tr_gpu[idx]
            with torch.autocast("cuda", torch.bfloat16):
                lg = model(input_ids=w[:, :-1], use_cache=False).logits
            loss = F.cross_entropy(lg.float().reshape(-1, lg.shape[-1]), w[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            acc += loss.detach()
            nacc += 1
            if s + 1 in eval_at or s + 1 == total_steps:
                last_train, acc, nacc = acc.item() / nacc, torch.zeros((), device=dev), 0
            if s + 1 in eval_at and not dry:
                vl = loss_on(model, va_x, va_y)
                log(f"  {label} step {s+1}/{total_steps} lr {lr_at(s):.2e} train {last_train:.4f} "
                    f"val {vl:.4f} ({time.time()-t_run:.1f}s)")
                if vl < best[0]:
                    best = (vl, {k: v.detach().to("cpu", copy=True)
                                 for k, v in model.state_dict().items()}, s + 1)
        torch.cuda.synchronize()
        el = time.time() - t_run
        if dry:
            best = (float("nan"), {k: v.detach().to("cpu", copy=True)
                                   for k, v in model.state_dict().items()}, total_steps)
        return dict(label=label, steps=total_steps, seconds=el, params=nparam,
                    best_val=best[0], best_step=best[2], state=best[1], last_train=last_train)

    # dry pass: a few steps, then every export/reload/reference/sampling path
    t0 = time.time()
    d = run(30, "dry", dry=True)
    step_s = d["seconds"] / 30
    dry_dir = os.path.join(args.work, "dry")
    files = export(d["state"], tok, dry_dir)
    nbytes = dir_bytes(dry_dir)
    ref = reference(dry_dir, tok)
    smp = samples(dry_dir, tok, dev, n_new=8)
    log(f"dry pass ok in {time.time()-t0:.1f}s: params {d['params']}, files {files}, "
        f"{nbytes} bytes (+reference ~{len(json.dumps(ref))}), ~{step_s*1000:.1f} ms/step "
        f"(incl. warm-up); ref greedy {ref['greedy_ids'][:8]}...; sample {smp[0]['text']!r}")
    if nbytes + len(json.dumps(ref)) + 20000 > MAX_BYTES:
        raise RuntimeError(f"model folder would be {nbytes} bytes > {MAX_BYTES}")
    if args.dry_only:
        return

    # sweep
    runs, best = [], None
    for ep in EPOCH_SWEEP:
        steps = int(round(ep * steps_per_epoch))
        spent = time.time() - t_start
        if runs:
            step_s = runs[-1]["seconds"] / runs[-1]["steps"]
        need = steps * step_s * 1.15 + 5
        if spent + need > args.budget:
            log(f"sweep: skipping {ep} epochs ({steps} steps, ~{need:.0f}s): budget {args.budget}s, "
                f"spent {spent:.0f}s")
            break
        log(f"sweep: {ep} epochs = {steps} steps")
        r = run(steps, f"ep{ep}")
        r["epochs"] = ep
        log(f"sweep: {ep} epochs: best val {r['best_val']:.4f} at step {r['best_step']}, "
            f"{r['seconds']:.1f}s, {r['steps']/r['seconds']:.1f} steps/s")
        runs.append(r)
        if best is None or r["best_val"] < best["best_val"]:
            best = r
        else:
            log("sweep: longer training no longer lowers held-out loss; stop")
            break

    meta = dict(seed=SEED, epochs=best["epochs"], steps=best["best_step"],
                total_steps_of_run=best["steps"], batch=BATCH, seq_len=SEQ_LEN, lr=LR,
                corpus_sha256=corpus_meta["sha256"])
    files = export(best["state"], tok, args.out)
    # final figures in float32 from the exported bf16 weights (TF32 off)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    m = load_exported(args.out, dev, torch.float32, attn="sdpa")
    final_train = loss_on(m, trf_x, trf_y, bf16=False)
    final_val = loss_on(m, va_x, va_y, bf16=False)
    del m
    ref = reference(args.out, tok)
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    smp = samples(args.out, tok, dev)
    report = dict(
        corpus=corpus_meta, model=MODEL, params=best["params"],
        seed=SEED, batch=BATCH, seq_len=SEQ_LEN, lr=LR, min_lr_frac=MIN_LR_FRAC,
        weight_decay=WEIGHT_DECAY, chosen=meta,
        sweep=[{k: r[k] for k in ("epochs", "steps", "seconds", "best_val", "best_step", "last_train")}
               for r in runs],
        final_train_loss_f32=final_train, final_val_loss_f32=final_val,
        train_tokens=len(tr), val_tokens=len(va),
        training_seconds=sum(r["seconds"] for r in runs),
        chosen_run_seconds=best["seconds"],
        wall_seconds=time.time() - t_start, device=torch.cuda.get_device_name(0),
        versions=dict(torch=torch.__version__, transformers=transformers.__version__,
                      tokenizers=tokenizers.__version__),
        files={f: os.path.getsize(os.path.join(args.out, f)) for f in sorted(os.listdir(args.out))},
        total_bytes=dir_bytes(args.out),
        reference_greedy_text=ref["greedy_text"], samples=smp)
    with open(args.report, "w") as f:
        json.dump(report, f, indent=1)
    log(f"final: train {final_train:.4f} val {final_val:.4f} (f32), {report['total_bytes']} bytes, "
        f"chosen {meta}")
    log("reference greedy:", repr(ref["greedy_text"]), "cached==uncached:",
        ref["generate_cached_greedy_ids_equal"])
    for s in smp:
        log("SAMPLE", repr(s["text"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--out", default=".train/kjv.txt")
    t = sub.add_parser("train")
    t.add_argument("--corpus", default=".train/kjv.txt")
    t.add_argument("--out", default="models/kjv-small")
    t.add_argument("--report", default="train_report.json")
    t.add_argument("--work", default="/tmp/train-work")
    t.add_argument("--budget", type=float, default=240.0,
                   help="wall seconds for the whole train step; longer sweep runs are skipped")
    t.add_argument("--dry-only", action="store_true")
    args = ap.parse_args()
    prepare(args) if args.cmd == "prepare" else train(args)


if __name__ == "__main__":
    main()

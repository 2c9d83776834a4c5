#!/usr/bin/env python3
"""PyTorch references for BenchmarkTrainerStep and BenchmarkGenerate
(bench/user_test.go), run by run-cpu-user.sh interleaved with ours.

The model is modernbert_torch.py's ModernBERT (random Hugging Face init).

  train-step       the MDLM step at the reference config (small preset,
                   vocabulary 4096, 8 x 256 random tokens): t ~ U(0, 1) per
                   row, each token masked with probability t, the head and
                   cross-entropy at the masked rows only weighted 1/t and
                   divided by the tokens, backward, gradient clipping at 1,
                   AdamW (weight decay 0.01) and zero_grad: the work of
                   train.Trainer.Step.
  sample-reference LLaDA's generate: 64 prompt + 128 new tokens, 128 steps,
                   blocks of 32, temperature 0, low-confidence remasking; each
                   step runs the whole canvas with logits at every position
                   and the float64 softmax of LLaDA's code.
  sample-equal     the same sampler doing our work: logits only at the active
                   block's masked rows, softmax in float32.

Each prints "torch/<mode> ... tokens/s ... ms/op ... cpu-ms/op", the mean of
--runs runs after one warm-up. numpy/torch must use OpenBLAS (Debian:
libopenblas0-pthread; the script says which BLAS it found) and the thread
policy is the fair one: OMP_WAIT_POLICY=passive (Debian's torch is several
times slower on 2 busy cores without it) and both pools sized to --threads.
"""

import argparse
import os
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["train-step", "sample-reference", "sample-equal"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--preset", default="small", choices=["tiny", "small", "modernbert-base"])
    ap.add_argument("--vocab", type=int, default=50368)
    ap.add_argument("--seed", type=int, default=1)
    return ap.parse_args()


ARGS = parse_args()
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ARGS.threads))
os.environ.setdefault("OMP_NUM_THREADS", str(ARGS.threads))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import modernbert_torch as mb  # noqa: E402

PRESETS = {  # hidden, intermediate, layers, heads, local_attention (bert/config.go)
    "tiny": (128, 256, 4, 4, 64),
    "small": (256, 384, 6, 4, 128),
    "modernbert-base": (768, 1152, 22, 12, 128),
}


def blas():
    """The BLAS this process loaded, from its memory map."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower()}
        return ",".join(sorted(os.path.basename(p) for p in libs)) or "none found"
    except OSError:
        return "unknown"


def config(preset, vocab):
    cfg = mb.Config()
    cfg.hidden, cfg.intermediate, cfg.layers, cfg.heads, cfg.local_attention = PRESETS[preset]
    cfg.vocab, cfg.pad_id = vocab, vocab - 2
    return cfg


def encode(model, ids):
    (gcos, gsin), (lcos, lsin), local_mask = model.tables(ids.shape[1])
    x = model.embed_norm(model.tok_embeddings(ids))
    for l in model.layers:
        x = l(x, gcos, gsin, None) if l.is_global else l(x, lcos, lsin, local_mask)
    return model.final_norm(x)


def head(model, z):
    z = model.head_norm(F.gelu(model.head_dense(z)))
    return F.linear(z, model.tok_embeddings.weight, model.decoder_bias)


def timed(fn, runs):
    fn()
    return timed_body(fn, runs)


def timed_body(fn, runs):
    """Mean wall and process CPU seconds of runs calls of fn (no warm-up)."""
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - w0) / runs, (time.process_time() - c0) / runs


def train_step_flops(cfg, batch, seq, rows):
    """flops.go's TrainStepFLOPs: 3x the forward's matrix products and
    attention products (2 per multiply-add), the head at rows positions.
    Layer l is global when l is a multiple of cfg.global_every."""
    h, i, v = cfg.hidden, cfg.intermediate, cfg.vocab
    w = cfg.local_attention // 2
    enc = 0.0
    for layer in range(cfg.layers):
        enc += seq * 2 * (4 * h * h + 3 * i * h)
        for q in range(seq):
            keys = seq if layer % cfg.global_every == 0 else min(q + w, seq - 1) - max(q - w, 0) + 1
            enc += 4 * h * keys
    return 3 * (batch * enc + rows * 2 * (h * h + h * v))


def main():
    a = ARGS
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.mode == "train-step":
        cfg = config("small", 4096)
        cfg.pad_id = 3
    else:
        cfg = config(a.preset, a.vocab)
    mask_id = cfg.vocab - 1
    model = mb.ModernBert(cfg)
    model.init_weights()
    print(f"# torch {torch.__version__}, BLAS {blas()}, {torch.get_num_threads()} threads, "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
          f"attention {mb.ATTENTION}")

    if a.mode == "train-step":
        batch, seq = 8, 256
        tokens = batch * seq
        ids = torch.randint(5, cfg.vocab, (batch, seq))
        decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "tok_embeddings" not in n]
        rest = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "tok_embeddings" not in n)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                                lr=1e-4, betas=(0.9, 0.999), eps=1e-8)

        def step():
            t = torch.rand(batch, 1).clamp_min(1e-3)
            masked = torch.rand(batch, seq) < t
            noisy = ids.masked_fill(masked, mask_id)
            rows = masked.view(-1).nonzero().squeeze(1)
            z = encode(model, noisy).view(tokens, -1)[rows]
            logits = head(model, z)
            w = (1 / t).expand(batch, seq).reshape(-1)[rows] / tokens
            loss = (F.cross_entropy(logits, ids.view(-1)[rows], reduction="none") * w).sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad()

        # As BenchmarkTrainerStep: one SGEMM 1024^3 (torch.mm, the same
        # OpenBLAS) after every timed step, timed apart by CPU time, so that
        # the step's analytic GFLOP per CPU-second can be set against this
        # machine's SGEMM in the same run.
        n = 1024
        ma, mb_ = torch.rand(n, n) - 0.5, torch.rand(n, n) - 0.5
        torch.mm(ma, mb_)
        probe = [0.0]

        def step_and_probe():
            step()
            c0 = time.process_time()
            torch.mm(ma, mb_)
            probe[0] += time.process_time() - c0

        step_and_probe()
        probe[0] = 0.0
        wall, cpu = timed_body(step_and_probe, a.runs)
        cpu -= probe[0] / a.runs
        sgemm = 2 * n ** 3 * a.runs / probe[0] / 1e9 if probe[0] > 0 else float("nan")
        flops = train_step_flops(cfg, batch, seq, tokens // 2)
        ratio = flops / cpu / 1e9 / sgemm if cpu > 0 else float("nan")
        print(f"torch/train-step {a.runs} {tokens / wall:.1f} tokens/s {1e3 * wall:.1f} ms/op {1e3 * cpu:.1f} cpu-ms/op "
              f"{flops / 1e9:.2f} GFLOP/op {sgemm:.1f} sgemm-GFLOP/cpu-s {ratio:.4f} cpu-step/sgemm")
        return

    prompt, gen, steps, block = 64, 128, 128, 32
    ids = torch.randint(0, cfg.vocab - 2, (1, prompt))
    blocks, per_block = gen // block, steps // (gen // block)
    per_step = block // per_block

    @torch.no_grad()
    def generate():
        x = torch.cat([ids, torch.full((1, gen), mask_id)], dim=1)
        for b in range(blocks):
            lo = prompt + b * block
            for _ in range(per_block):
                in_block = torch.zeros_like(x, dtype=torch.bool)
                in_block[:, lo:lo + block] = True
                masked = (x == mask_id) & in_block
                if a.mode == "sample-reference":
                    logits = head(model, encode(model, x))  # every position
                    logits[..., mask_id] = float("-inf")
                    p = F.softmax(logits.to(torch.float64), dim=-1)
                    x0 = logits.argmax(dim=-1)
                    conf = torch.gather(p, -1, x0.unsqueeze(-1)).squeeze(-1)
                    conf = torch.where(masked, conf, torch.tensor(float("-inf"), dtype=conf.dtype))
                    pick = conf[0].topk(per_step).indices
                    x[0, pick] = x0[0, pick]
                else:
                    rows = masked[0].nonzero().squeeze(1)
                    logits = head(model, encode(model, x)[0, rows])  # the masked rows only
                    logits[:, mask_id] = float("-inf")
                    conf, x0 = F.softmax(logits, dim=-1).max(dim=-1)
                    pick = conf.topk(per_step).indices
                    x[0, rows[pick]] = x0[pick]
        return x

    wall, cpu = timed(generate, a.runs)
    print(f"torch/{a.mode}/{a.preset}/vocab={cfg.vocab} {a.runs} {gen / wall:.2f} tokens/s "
          f"{1e3 * wall:.1f} ms/op {1e3 * cpu:.1f} cpu-ms/op")


if __name__ == "__main__":
    main()

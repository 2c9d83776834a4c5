#!/usr/bin/env python3
"""The CPU reference workload of PERF.md in plain PyTorch, for comparison with
BenchmarkModernBERT (bench/modernbert_test.go).

ModernBERT is written out here rather than imported from transformers so that
the script needs nothing beyond PyTorch (Debian: python3-torch). It is the same
computation as transformers' ModernBertForMaskedLM in eager mode, with SDPA
attention on PyTorch 2 and transformers' eager attention (matmul, softmax,
matmul) on older versions such as Debian 12's 1.13:

  embeddings: token lookup, LayerNorm (no bias)
  layer l:    h += Wo(attn(RoPE(Wqkv(attn_norm(h)))))   attn_norm is the
              identity on layer 0, whose input was just normalised
              h += mlp.Wo(GELU(a) * g), (a, g) = mlp.Wi(mlp_norm(h)) halves
              layers 0, 3, ... are global (RoPE theta 160000); the others see
              |i - j| <= local_attention / 2 (theta 10000) through an additive
              mask
  head:       final_norm, dense, GELU, LayerNorm, decoder tied to the token
              embeddings, plus a bias

Workload: vocabulary 4096, width 256, 6 layers, 4 heads, GeGLU 384, window 128;
batch 8 x 256 random tokens, logits at every position, mean cross-entropy,
AdamW. "forward" runs under torch.no_grad(); "train-step" is forward, loss,
backward, optimizer step and zero_grad. Times are means over --steps steps
after one warm-up step, like `go test -bench -benchtime 3x`.

PERF.md measured PyTorch 1.13 on the reference 2-core EPYC at 1.35 s per train
step (1521 tokens/s) and 0.41 s per forward.
"""

import argparse
import math
import os
import time


def parse_args():
    ap = argparse.ArgumentParser(description="ModernBERT CPU reference workload in PyTorch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    return ap.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # Debian's PyTorch does its matrix products in OpenBLAS, whose own thread
    # pool torch.set_num_threads does not size: left alone it starts one
    # thread per core beside OpenMP's, and spinning threads of both pools
    # then share the cores. Size both before torch loads them.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ARGS.threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(ARGS.threads))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Config:
    vocab = 4096
    hidden = 256
    layers = 6
    heads = 4
    intermediate = 384
    local_attention = 128
    global_every = 3
    global_theta = 160000.0
    local_theta = 10000.0
    eps = 1e-5
    init_range = 0.02
    init_cutoff = 2.0
    pad_id = 3  # as in bench.ReferenceConfig


def rope_tables(seq, dim, theta):
    """cos and sin [seq, dim] for rotate-half RoPE, frequencies repeated twice."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    freqs = torch.outer(torch.arange(seq, dtype=torch.float32), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Layer(nn.Module):
    def __init__(self, cfg, index):
        super().__init__()
        h = cfg.hidden
        self.is_global = index % cfg.global_every == 0
        self.heads = cfg.heads
        self.attn_norm = nn.Identity() if index == 0 else layer_norm(h, cfg.eps)
        self.Wqkv = nn.Linear(h, 3 * h, bias=False)
        self.Wo = nn.Linear(h, h, bias=False)
        self.mlp_norm = layer_norm(h, cfg.eps)
        self.Wi = nn.Linear(h, 2 * cfg.intermediate, bias=False)
        self.mlp_Wo = nn.Linear(cfg.intermediate, h, bias=False)

    def forward(self, x, cos, sin, mask):
        b, s, h = x.shape
        nh, d = self.heads, h // self.heads
        qkv = self.Wqkv(self.attn_norm(x)).view(b, s, 3, nh, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [b, nh, s, d]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        att = attention(q, k, v, mask)
        x = x + self.Wo(att.transpose(1, 2).reshape(b, s, h))
        a, g = self.Wi(self.mlp_norm(x)).chunk(2, dim=-1)
        return x + self.mlp_Wo(F.gelu(a) * g)


def _eager_attention(q, k, v, mask):
    """softmax(q kT / sqrt(d) + mask) v, as transformers' eager attention."""
    scores = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    if mask is not None:
        scores = scores + mask
    return torch.matmul(scores.softmax(dim=-1), v)


# SDPA arrived in PyTorch 2.0; transformers uses eager attention before 2.1.1.
attention = getattr(F, "scaled_dot_product_attention", None) or _eager_attention
ATTENTION = "sdpa" if attention is not _eager_attention else "eager (no SDPA before torch 2.0)"


class _NoBiasLayerNorm(nn.Module):
    """LayerNorm without bias for PyTorch older than 2.1 (no bias= argument)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, None, self.eps)


def _has_bias_arg():
    import inspect

    return "bias" in inspect.signature(nn.LayerNorm.__init__).parameters


def layer_norm(dim, eps):
    return nn.LayerNorm(dim, eps=eps, bias=False) if _has_bias_arg() else _NoBiasLayerNorm(dim, eps)


class ModernBert(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.tok_embeddings = nn.Embedding(cfg.vocab, h, padding_idx=cfg.pad_id)
        self.embed_norm = layer_norm(h, cfg.eps)
        self.layers = nn.ModuleList(Layer(cfg, i) for i in range(cfg.layers))
        self.final_norm = layer_norm(h, cfg.eps)
        self.head_dense = nn.Linear(h, h, bias=False)
        self.head_norm = layer_norm(h, cfg.eps)
        self.decoder_bias = nn.Parameter(torch.zeros(cfg.vocab))
        self._tables = {}

    def init_weights(self):
        """Hugging Face's init: truncated normals at +-2 sigma, sigma 0.02 for
        inputs and embeddings, 0.02 / sqrt(2 L) for outputs; norms 1, bias 0."""
        cfg = self.cfg
        std, out = cfg.init_range, cfg.init_range / math.sqrt(2 * cfg.layers)

        def draw(w, sigma):
            nn.init.trunc_normal_(w, 0.0, sigma, -cfg.init_cutoff * sigma, cfg.init_cutoff * sigma)

        with torch.no_grad():
            draw(self.tok_embeddings.weight, std)
            for l in self.layers:
                draw(l.Wqkv.weight, std)
                draw(l.Wo.weight, out)
                draw(l.Wi.weight, std)
                draw(l.mlp_Wo.weight, out)
            draw(self.head_dense.weight, out)
            self.decoder_bias.zero_()

    def tables(self, seq):
        """RoPE tables per layer kind and the sliding-window mask, cached."""
        if seq not in self._tables:
            d = self.cfg.hidden // self.cfg.heads
            i = torch.arange(seq)
            window = (i[:, None] - i[None, :]).abs() <= self.cfg.local_attention // 2
            mask = torch.zeros(seq, seq).masked_fill(~window, float("-inf"))
            self._tables[seq] = (
                rope_tables(seq, d, self.cfg.global_theta),
                rope_tables(seq, d, self.cfg.local_theta),
                mask,
            )
        return self._tables[seq]

    def forward(self, ids):
        (gcos, gsin), (lcos, lsin), local_mask = self.tables(ids.shape[1])
        x = self.embed_norm(self.tok_embeddings(ids))
        for l in self.layers:
            if l.is_global:
                x = l(x, gcos, gsin, None)
            else:
                x = l(x, lcos, lsin, local_mask)
        z = self.head_norm(F.gelu(self.head_dense(self.final_norm(x))))
        return F.linear(z, self.tok_embeddings.weight, self.decoder_bias)  # tied decoder


def time_steps(step, steps):
    """Mean wall, fastest wall and mean CPU seconds per step, after a warm-up."""
    step()
    best = float("inf")
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return (time.perf_counter() - w0) / steps, best, (time.process_time() - c0) / steps


def main():
    args = ARGS

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = Config()
    model = ModernBert(cfg)
    model.init_weights()
    ids = torch.randint(0, cfg.vocab, (args.batch, args.seq))
    targets = torch.randint(0, cfg.vocab, (args.batch * args.seq,))
    tokens = args.batch * args.seq

    # Norms, biases and the embeddings get no weight decay, as in bench.Workload.
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "tok_embeddings" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "tok_embeddings" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
    )

    def forward():
        with torch.no_grad():
            model(ids)

    losses = []

    def train_step():
        logits = model(ids).view(tokens, cfg.vocab)
        loss = F.cross_entropy(logits, targets)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())

    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads "
          f"(OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}), "
          f"{sum(p.numel() for p in model.parameters())} parameters, batch {args.batch} x seq {args.seq}, "
          f"attention {ATTENTION}")
    for name, fn in (("forward", forward), ("train-step", train_step)):
        wall, best, cpu = time_steps(fn, args.steps)
        print(f"torch/{name} {args.steps} {tokens / wall:.0f} tokens/s {1e3 * wall:.1f} ms/step "
              f"{1e3 * best:.1f} min-ms/step {1e3 * cpu:.1f} cpu-ms/step", flush=True)
    print(f"# train loss {losses[0]:.4f} -> {losses[-1]:.4f} (ln V = {math.log(cfg.vocab):.4f})")


if __name__ == "__main__":
    main()

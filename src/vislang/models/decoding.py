"""Caption decoding: greedy, batched beam search with a length penalty, sampling with temperature / top-p.

Every function takes a model with the step interface of
:class:`vislang.models.captioner.Captioner` (``init_state``, ``step``, ``select_state``),
the encoded images ``memory`` (``B x N x d``) and returns a :class:`Decoded`:
``tokens`` ``B x n x L`` (the generated ids without ``<start>``, ending with ``<end>``
unless cut at ``max_len``, padded with ``pad_id``), ``logprob`` ``B x n`` (the model's
log-probability of each caption, ``<end>`` included) and ``score`` ``B x n`` (what the
search ranked by: ``logprob / lp(length)`` for beam search, ``logprob`` otherwise).

Beam search
  All images and beams advance together as one ``B*k`` batch.  At each step the
  ``2k`` best extensions of an image's beams are ranked; those ending in ``<end>``
  within the first ``k`` become finished hypotheses, the best ``k`` others stay alive.
  An image stops once its ``n``-th best finished score is at least an upper bound on
  what any alive beam can still reach (``best_alive / lp(max_len)``; exact, because
  log-probabilities only fall and ``lp`` only grows), so the result does not depend on
  which other images share the batch.  Beams still alive at ``max_len`` are finished as
  they stand.

  Length penalty (Wu et al. 2016, GNMT eq. 14): ``lp(L) = ((5 + L) / 6) ** alpha``,
  ``L`` = generated tokens including ``<end>``; ``alpha = 0`` ranks by raw log-probability.

  Plain beam search can return a caption the model scores *below* the greedy one (the
  greedy prefix may fall off the beam).  With ``keep_greedy=True`` (the default) the
  greedy caption competes with the finished beams, so the result never scores below
  greedy; with ``k = 1`` the search is exactly greedy either way.

``<start>`` and ``<pad>`` are never generated; reported log-probabilities are the model's
own (not renormalised over the remaining tokens).

Sampling
  ``temperature`` divides the logits; ``top_p`` keeps the smallest set of most likely
  tokens whose probability reaches ``p`` (nucleus sampling, Holtzman et al. 2020).
  A private ``torch.Generator`` makes the samples a function of the seed.
"""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass
class Decoded:
    tokens: torch.Tensor     # B x n x L, long
    logprob: torch.Tensor    # B x n, float64
    score: torch.Tensor      # B x n, float64


def length_penalty(length: int | torch.Tensor, alpha: float):
    """GNMT length penalty ``((5 + L) / 6) ** alpha`` (Wu et al. 2016, eq. 14)."""
    return ((5.0 + length) / 6.0) ** alpha


def _ban(logp: torch.Tensor, start_id: int, pad_id: int) -> torch.Tensor:
    """``<start>`` and ``<pad>`` are never generated (the model is never trained to emit them)."""
    logp = logp.clone()
    logp[:, [start_id, pad_id]] = float("-inf")
    return logp


def _trim(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    keep = (tokens != pad_id).flatten(0, -2).any(0)
    last = int(keep.nonzero().max()) + 1 if bool(keep.any()) else 1
    return tokens[..., :last]


@torch.no_grad()
def greedy(model, memory: torch.Tensor, *, start_id: int, end_id: int, pad_id: int = 0, max_len: int = 24) -> Decoded:
    """The most likely token at every step, for all images at once; ``n = 1``."""
    B, dev = memory.shape[0], memory.device
    state = model.init_state(memory)
    tokens = torch.full((B, 1), start_id, dtype=torch.long, device=dev)
    total = torch.zeros(B, dtype=torch.float64, device=dev)
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    for _ in range(max_len - 1):
        logp, state = model.step(tokens, state)
        logp = _ban(logp, start_id, pad_id)
        nxt = logp.argmax(-1)
        total += torch.where(done, 0.0, logp.gather(1, nxt[:, None]).squeeze(1).double())
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        tokens = torch.cat([tokens, nxt[:, None]], 1)
        done |= nxt == end_id
        if bool(done.all()):
            break
    out = tokens[:, 1:].unsqueeze(1)
    return Decoded(out, total[:, None], total[:, None].clone())


@torch.no_grad()
def beam_search(model, memory: torch.Tensor, *, k: int = 3, start_id: int, end_id: int, pad_id: int = 0,
                max_len: int = 24, alpha: float = 0.0, n: int = 1, keep_greedy: bool = True) -> Decoded:
    """Batched beam search of width ``k``; returns the ``n <= k`` best captions per image (best first)."""
    if not 1 <= n <= k:
        raise ValueError(f"need 1 <= n <= k, got n={n}, k={k}")
    B, dev = memory.shape[0], memory.device
    steps = max_len - 1
    ar_b = torch.arange(B, device=dev)
    state = model.select_state(model.init_state(memory), ar_b.repeat_interleave(k))
    tokens = torch.full((B * k, 1), start_id, dtype=torch.long, device=dev)
    alive = torch.full((B, k), float("-inf"), dtype=torch.float64, device=dev)
    alive[:, 0] = 0.0                                   # all beams start identical: expand only the first
    fin_tok = torch.full((B, k, steps), pad_id, dtype=torch.long, device=dev)
    fin_score = torch.full((B, k), float("-inf"), dtype=torch.float64, device=dev)
    fin_logp = fin_score.clone()
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    lp_max = length_penalty(steps, alpha)
    rank = torch.arange(2 * k, device=dev)

    def merge(seq, logp, score):
        nonlocal fin_tok, fin_score, fin_logp
        all_score = torch.cat([fin_score, score], 1)
        top, pos = all_score.topk(k, dim=1)
        fin_tok = torch.cat([fin_tok, seq], 1).gather(1, pos[..., None].expand(-1, -1, steps))
        fin_logp = torch.cat([fin_logp, logp], 1).gather(1, pos)
        fin_score = top

    for t in range(steps):
        logp, state = model.step(tokens, state)
        logp = _ban(logp, start_id, pad_id)
        V = logp.shape[-1]
        if 2 * k > V:
            raise ValueError(f"beam size {k} is too large for a vocabulary of {V}")
        total = alive[..., None] + logp.double().view(B, k, V)
        cand, idx = total.view(B, k * V).topk(2 * k, dim=1)
        beam, tok = idx // V, idx % V
        is_end = tok == end_id
        prev = tokens.view(B, k, t + 1)[:, :, 1:]
        # 1. end tokens ranked within the first k finish (for images still searching)
        new_fin = is_end & (rank < k) & ~done[:, None] & torch.isfinite(cand)
        if bool(new_fin.any()):
            seq = torch.cat([prev.gather(1, beam[..., None].expand(-1, -1, t)), tok[..., None]], 2)
            seq = torch.nn.functional.pad(seq, (0, steps - t - 1), value=pad_id)
            merge(seq, torch.where(new_fin, cand, float("-inf")),
                  torch.where(new_fin, cand / length_penalty(t + 1, alpha), float("-inf")))
        # 2. the k best other extensions stay alive
        a_score, a_pos = torch.where(is_end, float("-inf"), cand).topk(k, dim=1)
        flat = (ar_b[:, None] * k + beam.gather(1, a_pos)).view(-1)
        tokens = torch.cat([tokens.index_select(0, flat), tok.gather(1, a_pos).view(-1, 1)], 1)
        state = model.select_state(state, flat)
        alive = a_score
        # 3. an image is done when no alive beam can beat its n-th finished hypothesis
        bound = alive.max(1).values / lp_max
        done |= fin_score[:, n - 1] >= bound
        if bool(done.all()):
            break
    else:  # max_len reached: finish the alive beams of images still searching, cut as they stand
        live = ~done[:, None] & torch.isfinite(alive)
        seq = tokens.view(B, k, -1)[:, :, 1:]
        merge(seq, torch.where(live, alive, float("-inf")),
              torch.where(live, alive / length_penalty(steps, alpha), float("-inf")))

    if keep_greedy and k > 1:
        g = greedy(model, memory, start_id=start_id, end_id=end_id, pad_id=pad_id, max_len=max_len)
        g_tok = torch.nn.functional.pad(g.tokens, (0, steps - g.tokens.shape[2]), value=pad_id)   # B x 1 x steps
        g_len = ((g_tok != pad_id).sum(2)).clamp(min=1)
        present = (fin_tok == g_tok).all(2).any(1, keepdim=True)
        g_score = torch.where(present, float("-inf"), g.logprob / length_penalty(g_len.double(), alpha))
        merge(g_tok, torch.where(present, float("-inf"), g.logprob), g_score)

    return Decoded(_trim(fin_tok[:, :n], pad_id), fin_logp[:, :n], fin_score[:, :n])


@torch.no_grad()
def sample(model, memory: torch.Tensor, *, start_id: int, end_id: int, pad_id: int = 0, max_len: int = 24,
           n: int = 1, temperature: float = 1.0, top_p: float = 1.0,
           generator: torch.Generator | None = None) -> Decoded:
    """``n`` sampled captions per image; ``temperature <= 0`` means greedy.  ``logprob`` is the untempered
    model log-probability of each sample."""
    if temperature <= 0:
        g = greedy(model, memory, start_id=start_id, end_id=end_id, pad_id=pad_id, max_len=max_len)
        return Decoded(g.tokens.expand(-1, n, -1), g.logprob.expand(-1, n), g.score.expand(-1, n))
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must lie in (0, 1], got {top_p}")
    B, dev = memory.shape[0], memory.device
    rows = torch.arange(B, device=dev).repeat_interleave(n)
    state = model.select_state(model.init_state(memory), rows)
    tokens = torch.full((B * n, 1), start_id, dtype=torch.long, device=dev)
    total = torch.zeros(B * n, dtype=torch.float64, device=dev)
    done = torch.zeros(B * n, dtype=torch.bool, device=dev)
    for _ in range(max_len - 1):
        logp, state = model.step(tokens, state)
        logp = _ban(logp, start_id, pad_id)
        probs = torch.softmax(logp / temperature, -1)
        if top_p < 1.0:
            sp, si = probs.sort(-1, descending=True)
            outside = (sp.cumsum(-1) - sp) >= top_p           # mass before this token already reaches p
            sp = sp.masked_fill(outside, 0.0)
            probs = torch.zeros_like(probs).scatter_(-1, si, sp)
        nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        total += torch.where(done, 0.0, logp.gather(1, nxt[:, None]).squeeze(1).double())
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        tokens = torch.cat([tokens, nxt[:, None]], 1)
        done |= nxt == end_id
        if bool(done.all()):
            break
    out = tokens[:, 1:].view(B, n, -1)
    return Decoded(out, total.view(B, n), total.view(B, n).clone())


@torch.no_grad()
def decode(model, images: torch.Tensor, *, start_id: int, end_id: int, pad_id: int = 0, max_len: int | None = None,
           beam: int = 1, n: int = 1, alpha: float = 0.0, temperature: float = 0.0, top_p: float = 1.0,
           generator: torch.Generator | None = None, keep_greedy: bool = True) -> Decoded:
    """Encode ``images`` and decode: sampling when ``temperature > 0``, else beam search (greedy for ``beam = 1``)."""
    was_training = model.training
    model.eval()
    try:
        memory = model.encode(images)
        max_len = max_len or model.config.max_len
        kw = dict(start_id=start_id, end_id=end_id, pad_id=pad_id, max_len=max_len)
        if temperature > 0:
            return sample(model, memory, n=n, temperature=temperature, top_p=top_p, generator=generator, **kw)
        if beam <= 1:
            if n != 1:
                raise ValueError("greedy decoding gives one caption per image; use beam >= n or sampling")
            return greedy(model, memory, **kw)
        return beam_search(model, memory, k=beam, alpha=alpha, n=n, keep_greedy=keep_greedy, **kw)
    finally:
        model.train(was_training)

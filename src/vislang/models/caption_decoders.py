"""Caption decoders over a grid of image features: a Transformer with cross-attention and an attention LSTM.

Both decoders share one interface, used by training (teacher forcing) and by
:mod:`vislang.models.decoding` (step by step):

* ``forward(memory, tokens) -> (logits, aux)`` -- ``memory`` is ``B x N x d`` (N grid
  cells), ``tokens`` is ``B x T`` (``<start>`` first); ``logits[:, t]`` predicts token
  ``t + 1``.  ``aux`` holds extra tensors (the LSTM's attention weights) or ``None``.
* ``init_state(memory) -> state``; ``step(tokens, state) -> (logprobs, state)`` where
  ``tokens`` is the whole prefix ``R x t`` so far and ``logprobs`` is ``R x V`` for the
  next token; ``select_state(state, index)`` repeats or reorders the rows (beam search).

The state is a dict of tensors: per-image ones (the memory and what derives from it, kept once
per image however many beams or samples share it) and per-row ones (``R`` = images x rows per
image, grouped by image).  ``step`` is for decoding (eval mode: no dropout).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def select_rows(state: dict[str, torch.Tensor], index: torch.Tensor, image_keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The state of rows ``index``: per-row tensors are gathered, per-image ones (``image_keys``: the memory
    and what is derived from it) are kept as they are, so beams never copy the image features.

    Rows are grouped by image, the same number per image (row ``r`` belongs to image ``r // rows_per_image``),
    and ``index`` must keep them so -- true of repeating rows per image and of reordering beams within an image.
    """
    n_img = state[image_keys[0]].shape[0]
    rows = next(v for k, v in state.items() if k not in image_keys).shape[0]
    r_old, r_new = rows // n_img, len(index) // n_img
    if len(index) % n_img or not torch.equal(
            index // r_old, torch.arange(n_img, device=index.device).repeat_interleave(r_new)):
        raise ValueError("select_state: the rows must stay grouped by image, the same number for every image")
    return {k: (v if k in image_keys else v.index_select(0, index)) for k, v in state.items()}


class TransformerCaptionDecoder(nn.Module):
    """Pre-norm Transformer decoder (Vaswani et al. 2017): causal self-attention over the words,
    cross-attention over the image grid.  Learned positions; output layer tied to the embedding.

    ``step`` decodes one position with a key/value cache (``init_state`` holds the
    memory's cross-attention keys/values; each step appends its self-attention ones).
    """

    def __init__(self, vocab_size: int, d_model: int = 256, layers: int = 3, heads: int = 4,
                 ff_mult: int = 4, dropout: float = 0.1, max_len: int = 32, pad_id: int = 0):
        super().__init__()
        self.d_model, self.max_len, self.pad_id = d_model, max_len, pad_id
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.pos = nn.Parameter(torch.zeros(1, max_len, d_model))
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.embed.weight, std=d_model ** -0.5)
        with torch.no_grad():
            self.embed.weight[pad_id].zero_()
        layer = nn.TransformerDecoderLayer(d_model, heads, dim_feedforward=ff_mult * d_model, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.layers = nn.TransformerDecoder(layer, layers)
        self.norm = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)
        self.out_bias = nn.Parameter(torch.zeros(vocab_size))

    def _run(self, memory: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.shape[1]
        if t > self.max_len:
            raise ValueError(f"sequence of {t} tokens is longer than the decoder's max_len {self.max_len}")
        x = self.embed(tokens) * math.sqrt(self.d_model) + self.pos[:, :t]
        causal = torch.triu(torch.full((t, t), float("-inf"), device=tokens.device), diagonal=1)
        # No padding mask: <pad> only follows <end>, and the causal mask already hides later positions.
        h = self.layers(self.drop(x), memory, tgt_mask=causal)
        return F.linear(self.norm(h), self.embed.weight, self.out_bias)

    def forward(self, memory: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self._run(memory, tokens), None

    # -- incremental decoding with a key/value cache -----------------------------------------------------------
    # The same computation as ``_run`` (pre-norm layers: x += SA(LN1 x); x += CA(LN2 x, memory); x += FF(LN3 x)),
    # one position at a time: each layer caches its self-attention keys/values of the positions so far and the
    # cross-attention keys/values of the memory, so a step costs O(t) instead of re-running the prefix.
    def init_state(self, memory: torch.Tensor) -> dict[str, torch.Tensor]:
        state = {}
        b = memory.shape[0]
        for i, layer in enumerate(self.layers.layers):
            _, wk, wv = layer.multihead_attn.in_proj_weight.chunk(3)
            _, bk, bv = layer.multihead_attn.in_proj_bias.chunk(3)
            state[f"ck{i}"] = F.linear(memory, wk, bk)
            state[f"cv{i}"] = F.linear(memory, wv, bv)
            state[f"sk{i}"] = memory.new_zeros(b, 0, self.d_model)
            state[f"sv{i}"] = memory.new_zeros(b, 0, self.d_model)
        return state

    def select_state(self, state: dict[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
        return select_rows(state, index, tuple(k for k in state if k.startswith("c")))

    @staticmethod
    def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
        b, tq, d = q.shape
        split = lambda x: x.view(b, x.shape[1], heads, d // heads).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(q), split(k), split(v))
        return out.transpose(1, 2).reshape(b, tq, d)

    def step(self, tokens: torch.Tensor, state: dict[str, torch.Tensor]):
        t = tokens.shape[1] - 1                         # position of the newest token
        if t >= self.max_len:
            raise ValueError(f"sequence of {t + 1} tokens is longer than the decoder's max_len {self.max_len}")
        x = self.embed(tokens[:, -1:]) * math.sqrt(self.d_model) + self.pos[:, t:t + 1]
        new = {}
        for i, layer in enumerate(self.layers.layers):
            sa, ca = layer.self_attn, layer.multihead_attn
            q, k, v = F.linear(layer.norm1(x), sa.in_proj_weight, sa.in_proj_bias).chunk(3, dim=-1)
            k = torch.cat([state[f"sk{i}"], k], 1)
            v = torch.cat([state[f"sv{i}"], v], 1)
            new[f"sk{i}"], new[f"sv{i}"] = k, v
            x = x + sa.out_proj(self._attend(q, k, v, sa.num_heads))
            wq, _, _ = ca.in_proj_weight.chunk(3)
            bq, _, _ = ca.in_proj_bias.chunk(3)
            q = F.linear(layer.norm2(x), wq, bq)                      # R x 1 x d
            ck, cv = state[f"ck{i}"], state[f"cv{i}"]                  # images x N x d
            grouped = q.reshape(ck.shape[0], -1, self.d_model)       # a row per beam -> a query per beam
            x = x + ca.out_proj(self._attend(grouped, ck, cv, ca.num_heads).reshape(q.shape))
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm3(x))))
            new[f"ck{i}"], new[f"cv{i}"] = state[f"ck{i}"], state[f"cv{i}"]
        logits = F.linear(self.norm(x[:, 0]), self.embed.weight, self.out_bias)
        return F.log_softmax(logits.float(), dim=-1), new


class AttentionLSTMDecoder(nn.Module):
    """LSTM with soft attention, after Show, Attend and Tell (Xu et al. 2015, "soft" variant).

    * initial state: ``h0 = tanh(W_h mean(a))``, ``c0 = tanh(W_c mean(a))`` (Xu et al. sec. 3.1.2);
    * attention: ``e_i = v^T tanh(U a_i + W h_{t-1})``, ``alpha = softmax(e)``,
      context ``z = beta * sum_i alpha_i a_i`` with the gating scalar
      ``beta = sigmoid(f_beta(h_{t-1}))`` (sec. 4.2.1);
    * ``LSTMCell([E y_{t-1}; z])``;
    * deep output layer ``p(y_t) ~ exp(L_o(E y_{t-1} + L_h h_t + L_z z_t))`` (eq. 7).

    ``aux`` of :meth:`forward` is the ``B x T x N`` attention, for the doubly stochastic
    regulariser ``sum_i (1 - sum_t alpha_ti)^2`` (eq. 14) the trainer adds.
    """

    def __init__(self, vocab_size: int, d_model: int = 256, hidden: int = 512, attn_dim: int = 256,
                 dropout: float = 0.3, pad_id: int = 0):
        super().__init__()
        self.d_model, self.hidden, self.pad_id = d_model, hidden, pad_id
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.init_h = nn.Linear(d_model, hidden)
        self.init_c = nn.Linear(d_model, hidden)
        self.att_feat = nn.Linear(d_model, attn_dim)
        self.att_hid = nn.Linear(hidden, attn_dim)
        self.att_v = nn.Linear(attn_dim, 1)
        self.f_beta = nn.Linear(hidden, 1)
        self.cell = nn.LSTMCell(2 * d_model, hidden)
        self.L_h = nn.Linear(hidden, d_model)
        self.L_z = nn.Linear(d_model, d_model, bias=False)
        self.L_o = nn.Linear(d_model, vocab_size)
        self.drop = nn.Dropout(dropout)

    def init_state(self, memory: torch.Tensor) -> dict[str, torch.Tensor]:
        mean = memory.mean(1)
        return {"memory": memory, "proj": self.att_feat(memory),
                "h": torch.tanh(self.init_h(mean)), "c": torch.tanh(self.init_c(mean))}

    def _cell(self, y_prev: torch.Tensor, state: dict[str, torch.Tensor]):
        h, c, memory, proj = state["h"], state["c"], state["memory"], state["proj"]
        n_img, rows = memory.shape[0], h.shape[0]                       # rows grouped by image
        hid = self.att_hid(h).view(n_img, rows // n_img, 1, -1)
        e = self.att_v(torch.tanh(proj.unsqueeze(1) + hid)).squeeze(-1)  # images x rows/image x N
        alpha = torch.softmax(e, dim=-1)
        z = torch.bmm(alpha, memory).reshape(rows, -1)
        alpha = alpha.reshape(rows, -1)
        z = torch.sigmoid(self.f_beta(h)) * z
        emb = self.embed(y_prev)
        h, c = self.cell(torch.cat([emb, z], dim=-1), (h, c))
        logits = self.L_o(self.drop(emb + self.L_h(self.drop(h)) + self.L_z(z)))
        return logits, alpha, {"memory": memory, "proj": proj, "h": h, "c": c}

    def forward(self, memory: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = self.init_state(memory)
        logits, alphas = [], []
        for t in range(tokens.shape[1]):
            lg, al, state = self._cell(tokens[:, t], state)
            logits.append(lg)
            alphas.append(al)
        return torch.stack(logits, 1), torch.stack(alphas, 1)

    def step(self, tokens: torch.Tensor, state: dict[str, torch.Tensor]):
        logits, _, state = self._cell(tokens[:, -1], state)
        return F.log_softmax(logits.float(), dim=-1), state

    def select_state(self, state: dict[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
        return select_rows(state, index, ("memory", "proj"))

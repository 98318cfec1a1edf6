"""Decoding: hand-worked toy models (exact answers), and greedy/beam/batched identities on real captioners."""

from __future__ import annotations

import math

import pytest
import torch

from vislang.models.captioner import Captioner, CaptionerConfig, sequence_logprob
from vislang.models.decoding import beam_search, decode, greedy, length_penalty, sample

PAD, START, END, UNK, A, B, C = range(7)
V = 7


class MarkovToy:
    """The next-token distribution depends only on the last token: ``table[last]`` (probabilities)."""

    def __init__(self, table: dict[int, dict[int, float]]):
        lp = torch.full((V, V), -1e9)
        for last, row in table.items():
            for tok, p in row.items():
                lp[last, tok] = math.log(p)
        self.lp = lp

    def init_state(self, memory):
        return {"memory": memory}

    def step(self, tokens, state):
        return self.lp[tokens[:, -1]].clone(), state

    def select_state(self, state, index):
        return {k: v.index_select(0, index) for k, v in state.items()}


KW = dict(start_id=START, end_id=END, pad_id=PAD)


def _mem(n=1):
    return torch.zeros(n, 1, 1)


def test_beam_finds_what_greedy_misses_hand_worked():
    # start -> a 0.5 | b 0.4 | end 0.1;  a -> end 0.3, c 0.35, b 0.35;  b -> end 0.9, c 0.1;  c -> end 1.0
    toy = MarkovToy({START: {A: 0.5, B: 0.4, END: 0.1}, A: {END: 0.3, C: 0.35, B: 0.35},
                     B: {END: 0.9, C: 0.1}, C: {END: 1.0}})
    g = greedy(toy, _mem(), max_len=6, **KW)
    # greedy: a (0.5), then c or b (0.35; argmax takes the first, b) then end 0.9: 0.5 * 0.35 * 0.9 = 0.1575
    assert g.tokens[0, 0].tolist() == [A, B, END]
    assert g.logprob[0, 0].item() == pytest.approx(math.log(0.5 * 0.35 * 0.9), abs=1e-6)
    b = beam_search(toy, _mem(), k=2, max_len=6, keep_greedy=False, **KW)
    # best overall: b end = 0.36
    assert b.tokens[0, 0].tolist() == [B, END]
    assert b.logprob[0, 0].item() == pytest.approx(math.log(0.36), abs=1e-6)
    b3 = beam_search(toy, _mem(), k=3, n=3, max_len=6, **KW)
    # the three best complete captions: b end .36, a c end .175, a b end .1575
    assert [row[row != PAD].tolist() for row in b3.tokens[0]] == [[B, END], [A, C, END], [A, B, END]]
    assert torch.allclose(b3.logprob[0], torch.tensor([math.log(.36), math.log(.175), math.log(.1575)],
                                                      dtype=torch.float64), atol=1e-6)


def test_length_penalty_prefers_longer_hand_worked():
    # start -> end 0.3 | a 0.7;  a -> end 0.35 | b 0.65 ; b -> end 1
    toy = MarkovToy({START: {END: 0.3, A: 0.7}, A: {END: 0.35, B: 0.65}, B: {END: 1.0}})
    # log-probs: [end] .3 (len 1), [a end] .245 (len 2), [a b end] .455 (len 3)
    plain = beam_search(toy, _mem(), k=3, n=3, max_len=6, alpha=0.0, **KW)
    assert plain.tokens[0, 0][plain.tokens[0, 0] != PAD].tolist() == [A, B, END]
    # with alpha = 1: scores log(p) / ((5 + L) / 6)
    scores = {1: math.log(.3) / length_penalty(1, 1.0), 2: math.log(.245) / length_penalty(2, 1.0),
              3: math.log(.455) / length_penalty(3, 1.0)}
    lp = beam_search(toy, _mem(), k=3, n=3, max_len=6, alpha=1.0, **KW)
    want = sorted(scores.values(), reverse=True)
    assert torch.allclose(lp.score[0], torch.tensor(want, dtype=torch.float64), atol=1e-6)
    assert length_penalty(3, 1.0) == pytest.approx(8 / 6)


def test_max_len_cuts_alive_beams():
    toy = MarkovToy({START: {A: 1.0}, A: {A: 0.9, END: 0.1}})
    b = beam_search(toy, _mem(), k=2, max_len=4, keep_greedy=False, **KW)   # 3 generated tokens at most
    # candidates: a end (.1), a a end (.09), a a a (cut, .81): the cut one wins
    assert b.tokens[0, 0].tolist() == [A, A, A]
    assert b.logprob[0, 0].item() == pytest.approx(math.log(0.81), abs=1e-6)


def test_sampling_frequencies_temperature_and_top_p():
    toy = MarkovToy({START: {A: 0.7, B: 0.3}, A: {END: 1.0}, B: {END: 1.0}})
    n = 4000
    gen = torch.Generator().manual_seed(0)
    s = sample(toy, _mem(), n=n, max_len=4, temperature=1.0, generator=gen, **KW)
    freq_a = (s.tokens[0, :, 0] == A).double().mean().item()
    assert abs(freq_a - 0.7) < 4 * math.sqrt(0.21 / n)
    # temperature 2: p ~ p^(1/2) -> sqrt(.7) / (sqrt(.7) + sqrt(.3)) = 0.6044
    s2 = sample(toy, _mem(), n=n, max_len=4, temperature=2.0, generator=gen, **KW)
    want = math.sqrt(.7) / (math.sqrt(.7) + math.sqrt(.3))
    assert abs((s2.tokens[0, :, 0] == A).double().mean().item() - want) < 4 * math.sqrt(want * (1 - want) / n)
    # top-p 0.6: the nucleus is {a} alone
    s3 = sample(toy, _mem(), n=200, max_len=4, temperature=1.0, top_p=0.6, generator=gen, **KW)
    assert bool((s3.tokens[0, :, 0] == A).all())
    # reported log-prob is the model's own (untempered)
    lp_b = s2.logprob[0][s2.tokens[0, :, 0] == B]
    assert torch.allclose(lp_b, torch.full_like(lp_b, math.log(0.3)))
    # same seed, same samples
    a1 = sample(toy, _mem(), n=50, max_len=4, generator=torch.Generator().manual_seed(3), **KW)
    a2 = sample(toy, _mem(), n=50, max_len=4, generator=torch.Generator().manual_seed(3), **KW)
    assert torch.equal(a1.tokens, a2.tokens)


def test_start_and_pad_never_generated():
    toy = MarkovToy({START: {START: 0.6, PAD: 0.3, A: 0.1}, A: {END: 1.0}})
    assert greedy(toy, _mem(), max_len=5, **KW).tokens[0, 0].tolist() == [A, END]
    assert beam_search(toy, _mem(), k=2, max_len=5, **KW).tokens[0, 0].tolist() == [A, END]


# -- real captioners, briefly trained on built-in scenes so that captions depend on the image and vary in length ----
@pytest.fixture(scope="module", params=["transformer", "lstm"])
def captioner(request):
    from vislang.data.scenes import generate
    from vislang.data.vocab import Vocab

    scenes = generate(32, size=32, seed=0, split="train")
    vocab = Vocab.build([c for i in scenes.ids for c in scenes.captions[i]], max_len=12)
    assert (vocab.pad_id, vocab.start_id, vocab.end_id) == (PAD, START, END)
    tokens = vocab.encode_batch([scenes.captions[i][0] for i in scenes.ids], 12)
    torch.manual_seed(0)
    cfg = CaptionerConfig(vocab_size=len(vocab), decoder=request.param, image_size=32, d_model=32, layers=2, heads=2,
                          lstm_hidden=48, dropout=0.0, max_len=12)
    model = Captioner(cfg)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(25):
        logits, _ = model(scenes.images, tokens)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1),
                                                 ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    images = generate(12, size=32, seed=0, split="val").images
    return model.eval(), images


def test_beam1_equals_greedy_and_beam_never_below_greedy(captioner):
    model, images = captioner
    with torch.no_grad():
        mem = model.encode(images)
    g = greedy(model, mem, max_len=12, **KW)
    b1 = beam_search(model, mem, k=1, max_len=12, keep_greedy=False, **KW)
    assert torch.equal(b1.tokens, g.tokens)
    assert torch.equal(b1.logprob, g.logprob)
    lengths = (g.tokens[:, 0] != PAD).sum(1)
    assert len(set(lengths.tolist())) > 1          # the identities are tested on captions of varied lengths
    for k in (2, 3, 5):
        bk = beam_search(model, mem, k=k, max_len=12, **KW)
        assert bool((bk.logprob[:, 0] >= g.logprob[:, 0] - 1e-5).all()), k    # float rounding only


def test_reported_logprob_equals_teacher_forcing(captioner):
    model, images = captioner
    d = decode(model, images, beam=3, n=2, **KW)
    for j in range(2):
        seq = torch.cat([torch.full((len(images), 1), START), d.tokens[:, j]], 1)
        with torch.no_grad():
            tf = sequence_logprob(model, images, seq, END)
        assert torch.allclose(tf.double(), d.logprob[:, j], atol=1e-4)
    assert bool((d.score[:, 0] >= d.score[:, 1]).all())
    assert not any(torch.equal(d.tokens[i, 0], d.tokens[i, 1]) for i in range(len(images)))


def test_batched_beam_equals_image_by_image(captioner):
    model, images = captioner
    with torch.no_grad():
        mem = model.encode(images)
    for alpha in (0.0, 0.7):
        batched = beam_search(model, mem, k=3, n=2, alpha=alpha, max_len=12, **KW)
        for i in range(len(images)):
            one = beam_search(model, mem[i:i + 1], k=3, n=2, alpha=alpha, max_len=12, **KW)
            width = one.tokens.shape[2]
            assert torch.equal(batched.tokens[i, :, :width], one.tokens[0])
            assert bool((batched.tokens[i, :, width:] == PAD).all())
            assert torch.allclose(batched.score[i], one.score[0], atol=1e-5)


def test_decode_dispatch_and_errors(captioner):
    model, images = captioner
    g = decode(model, images[:3], beam=1, **KW)
    s0 = decode(model, images[:3], temperature=0.0, beam=1, **KW)
    assert torch.equal(g.tokens, s0.tokens)
    tiny_p = decode(model, images[:3], temperature=1.0, top_p=1e-6, n=2,
                    generator=torch.Generator().manual_seed(0), **KW)   # nucleus of one token: greedy
    assert torch.equal(tiny_p.tokens[:, 0, :g.tokens.shape[2]], g.tokens[:, 0])
    with pytest.raises(ValueError):
        decode(model, images[:2], beam=1, n=2, **KW)
    with pytest.raises(ValueError):
        beam_search(model, model.encode(images[:2]), k=2, n=3, **KW)
    assert model.training is False

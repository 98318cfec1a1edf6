"""Word vocabulary for caption models: a simple tokenizer and a word <-> id table.

``tokenize`` is deliberately simple and deterministic: lower-case the text, split
off every punctuation character as its own token, split on white space.  (Caption
*metrics* use the PTB-compatible tokenizer of :mod:`vislang.metrics.text`; this one
only decides the model's word units.)

>>> tokenize("A red Circle, left of the cube.")
['a', 'red', 'circle', ',', 'left', 'of', 'the', 'cube', '.']

:class:`Vocab` reserves four special ids -- ``<pad>`` = 0, ``<start>`` = 1,
``<end>`` = 2, ``<unk>`` = 3 -- then lists the words seen at least ``min_count``
times, most frequent first (ties broken alphabetically, so the table is a pure
function of the captions).  Its :meth:`Vocab.state_dict` is a plain dict saved
beside the model weights.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any, Iterable, Sequence

import torch

from vislang.errors import InputError

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)

def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` with punctuation split off (one token per punctuation char).

    Unicode is NFKC-normalised and letters keep their accents (``café`` stays one word).
    """
    text = unicodedata.normalize("NFKC", str(text)).lower()
    out: list[str] = []
    for word in text.split():
        start = 0
        for i, ch in enumerate(word):
            if not (ch.isalnum() or ch == "'"):
                if i > start:
                    out.extend(_split_apostrophes(word[start:i]))
                out.append(ch)
                start = i + 1
        if start < len(word):
            out.extend(_split_apostrophes(word[start:]))
    return out


def _split_apostrophes(chunk: str) -> list[str]:
    """Keep inner apostrophes (``dog's``), split leading/trailing ones off as punctuation."""
    out: list[str] = []
    lead = len(chunk) - len(chunk.lstrip("'"))
    out.extend("'" * lead)
    core = chunk.strip("'")
    if core:
        out.append(core)
    trail = len(chunk) - lead - len(core) if core else 0
    out.extend("'" * trail)
    return out


class Vocab:
    """A word <-> id table with ``<pad>`` = 0, ``<start>``, ``<end>``, ``<unk>``."""

    def __init__(self, words: Sequence[str], max_len: int | None = None, min_count: int = 1):
        words = list(words)
        if list(words[:len(SPECIALS)]) != list(SPECIALS):
            raise InputError(f"vocabulary must begin with the special tokens {SPECIALS}, got {words[:4]}")
        if len(set(words)) != len(words):
            raise InputError("vocabulary has duplicate words")
        self.itos: list[str] = words
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(words)}
        self.max_len = None if max_len is None else int(max_len)
        self.min_count = int(min_count)
        self.pad_id, self.start_id, self.end_id, self.unk_id = 0, 1, 2, 3

    # -- building -------------------------------------------------------------------
    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1, max_len: int | None = None) -> "Vocab":
        """Count the tokens of ``captions``; keep those seen ``>= min_count`` times.

        ``max_len`` (tokens including ``<start>``/``<end>``) becomes the default
        truncation length of :meth:`encode`.
        """
        if min_count < 1:
            raise InputError(f"min_count must be >= 1, got {min_count}")
        counts: Counter[str] = Counter()
        for cap in captions:
            counts.update(tokenize(cap))
        kept = sorted((w for w, c in counts.items() if c >= min_count and w not in SPECIALS),
                      key=lambda w: (-counts[w], w))
        return cls(list(SPECIALS) + kept, max_len=max_len, min_count=min_count)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.state_dict() == other.state_dict()

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens, max_len={self.max_len})"

    # -- encoding -------------------------------------------------------------------
    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """``[<start>, w1, ..., wn, <end>]`` ids; unknown words map to ``<unk>``.

        When longer than ``max_len`` (default: the vocabulary's ``max_len``) the words are
        cut so that the result, ``<end>`` included, has exactly ``max_len`` ids.
        """
        limit = self.max_len if max_len is None else int(max_len)
        ids = [self.start_id] + [self.stoi.get(w, self.unk_id) for w in tokenize(text)] + [self.end_id]
        if limit is not None:
            if limit < 2:
                raise InputError(f"max_len must be >= 2 (room for <start> and <end>), got {limit}")
            if len(ids) > limit:
                ids = ids[:limit - 1] + [self.end_id]
        return ids

    def encode_batch(self, texts: Sequence[str], max_len: int | None = None) -> torch.LongTensor:
        """A ``len(texts) x L`` LongTensor padded with ``pad_id``; ``L`` = the longest encoding (<= ``max_len``)."""
        rows = [self.encode(t, max_len) for t in texts]
        width = max((len(r) for r in rows), default=2)
        out = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        return out

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Words of ``ids`` joined by spaces: stops at the first ``<end>``, drops ``<pad>``/``<start>``/``<end>``.

        ``<unk>`` is kept as the literal token ``<unk>``.
        """
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        words = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i in (self.pad_id, self.start_id):
                continue
            words.append(self.itos[i] if 0 <= i < len(self.itos) else UNK)
        return " ".join(words)

    def decode_batch(self, ids: torch.Tensor | Sequence[Sequence[int]]) -> list[str]:
        return [self.decode(row) for row in ids]

    # -- persistence ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"itos": list(self.itos), "max_len": self.max_len, "min_count": self.min_count}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "Vocab":
        try:
            return cls(state["itos"], max_len=state.get("max_len"), min_count=state.get("min_count", 1))
        except (KeyError, TypeError) as exc:
            raise InputError(f"not a vocabulary state (missing {exc}); was it saved by Vocab.state_dict()?") from None

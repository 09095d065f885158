"""Ladder taps cached per training example, so epochs after the first skip the frozen backbone.

The backbone is frozen and runs in eval mode (no dropout), so an example's taps are the same every epoch: the
first epoch computes them and keeps each example's rows (real tokens only) in CPU memory; a later batch whose
examples are all cached is rebuilt from those rows, padded as the batch is, and the backbone does not run.
Pad positions get zeros instead of the backbone's values for pad tokens; that changes nothing the side network
computes for real tokens (attention masks pad keys, every other op is per position).

Keys are the examples' real token ids (+ segment ids), so no example index has to travel with the batch, and
duplicate sentences share one entry. The cache stops growing at ``max_bytes`` (default: half the machine's
RAM); batches with uncached examples then run the backbone as usual.
"""

from __future__ import annotations

import os

import torch


def _half_of_ram() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


class TapCache:
    def __init__(self, padding_side: str, max_bytes: int | None = None):
        self.padding_side = padding_side
        self.max_bytes = _half_of_ram() if max_bytes is None else max_bytes
        self.bytes = 0
        self.hits = self.misses = 0
        self.full = False
        self._rows: dict[bytes, dict[str, dict]] = {}  # key -> stack -> tap name -> (tokens, d) CPU tensor

    def _keys(self, batch: dict) -> tuple[list[bytes], torch.Tensor]:
        mask = batch["attention_mask"].to("cpu").bool()
        parts = [batch["input_ids"].to("cpu")]
        if batch.get("token_type_ids") is not None:
            parts.append(batch["token_type_ids"].to("cpu"))
        keys = [b"|".join(p[i][mask[i]].numpy().tobytes() for p in parts) for i in range(mask.shape[0])]
        return keys, mask

    def store(self, batch: dict, taps: dict[str, dict]) -> None:
        if self.full:
            return
        keys, mask = self._keys(batch)
        length = mask.shape[1]
        for i, key in enumerate(keys):
            if key in self._rows:
                continue
            entry = {}
            for stack, stack_taps in taps.items():
                # stacks that run over the input (encoders, GPT-2) keep real tokens only; a T5 decoder's single
                # start-token position is kept whole
                entry[stack] = {
                    name: (t[i][mask[i]] if t.shape[1] == length else t[i]).to("cpu", copy=True)
                    for name, t in stack_taps.items()
                }
            size = sum(t.numel() * t.element_size() for stack in entry.values() for t in stack.values())
            if self.bytes + size > self.max_bytes:
                self.full = True
                return
            self._rows[key] = entry
            self.bytes += size

    def lookup(self, batch: dict) -> dict[str, dict] | None:
        """The batch's taps from the cache, on the batch's device; None if any example is not cached."""
        keys, mask = self._keys(batch)
        entries = [self._rows[k] for k in keys if k in self._rows]
        if len(entries) < len(keys):
            self.misses += 1
            return None
        self.hits += 1
        device, length = batch["input_ids"].device, mask.shape[1]
        taps: dict[str, dict] = {}
        for stack, names in entries[0].items():
            taps[stack] = {}
            for name, first in names.items():
                rows = [e[stack][name] for e in entries]
                if all(r.shape[0] == m.sum() for r, m in zip(rows, mask, strict=True)):
                    out = first.new_zeros(len(rows), length, first.shape[-1])
                    for i, r in enumerate(rows):
                        out[i][mask[i]] = r  # real tokens back where the batch's padding puts them
                else:
                    out = torch.stack(rows)
                taps[stack][name] = out.to(device, non_blocking=True)
        return taps

    def describe(self) -> str:
        return (
            f"tap cache: {len(self._rows)} examples, {self.bytes / 2**20:.0f} MiB in CPU memory, "
            f"{self.hits} batches served without the backbone" + (" (full: stopped growing)" if self.full else "")
        )

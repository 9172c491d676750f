"""A :class:`~biggait.models.biggergait.Trace` that turns a BiggerGait forward into the golden arrays.

Per-frame values arrive per time chunk with their global ``(n s)`` frame indices; large ones are
reduced at once (float64 sums, the tap frames' tokens) so a 97-frame case does not hold every block
output. :meth:`GoldenRecorder.arrays` returns what the golden ``fwd_*.npz`` files hold, under their names
(``../shared/golden/opengait/biggergait/README.md`` section 3).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from biggait.models.biggergait import Trace


def _sum(x: Tensor, dims: tuple[int, ...]) -> np.ndarray:
    return x.double().sum(dims).numpy()


def _abs_sum(x: Tensor, dims: tuple[int, ...]) -> np.ndarray:
    return x.double().abs().sum(dims).numpy()


class GoldenRecorder(Trace):
    """Collects one forward of ``n`` sequences of ``s`` frames; ``taps`` / ``tokens`` as the golden file's
    ``tap_frame_index`` / ``token_index`` (token 0 = cls, then patch tokens 1..gh*gw)."""

    def __init__(self, n: int, s: int, taps: np.ndarray, tokens: np.ndarray | None) -> None:
        super().__init__()
        self.n, self.s = n, s
        self.taps = [int(t) for t in taps]
        self.tokens = None if tokens is None else torch.as_tensor(np.asarray(tokens, dtype=np.int64))
        self.per_frame: dict[str, np.ndarray] = {}  # name -> [ns, ...]
        self.tap_rows: dict[str, dict[int, np.ndarray]] = {}  # name -> tap frame -> value
        self.full: dict[str, list[tuple[Tensor, Tensor]]] = {}  # name -> [(frames, [N, ...])]
        self.chunks: list[int] = []
        self.pooled: dict[int, tuple[dict, tuple]] = {}
        self.width = 0

    def _frame(self, name: str, frames: Tensor, values: np.ndarray) -> None:
        if name not in self.per_frame:
            self.per_frame[name] = np.zeros((self.n * self.s, *values.shape[1:]), dtype=values.dtype)
        self.per_frame[name][frames.numpy()] = values

    def _tap(self, name: str, frames: Tensor, value: Tensor) -> None:
        for row, f in enumerate(frames.tolist()):
            if f in self.taps:
                self.tap_rows.setdefault(name, {})[f] = value[row].detach().numpy().copy()

    def add(self, name: str, value, frames: Tensor | None = None) -> None:
        if name == "pooled":
            i, rec, outs = value
            self.pooled[i] = (rec, outs)
            return
        handler = getattr(self, f"_on_{name}", None)
        if handler is None:
            raise KeyError(f"GoldenRecorder: no handler for traced value {name!r}")
        handler(value, frames)

    def _on_dino_input(self, x: Tensor, frames: Tensor) -> None:
        self.chunks.append(len(frames) // self.n)
        self._tap("dino_input", frames, x)

    def _on_embeddings_output(self, x: Tensor, frames: Tensor) -> None:
        self._frame("embeddings_output_sum", frames, _sum(x, (1, 2)))

    def _on_hidden_states(self, blocks: list[Tensor], frames: Tensor) -> None:
        stacked = torch.stack(blocks, dim=1)  # [N, L, T, C]
        self.width = stacked.shape[-1]
        self._frame("hidden_states_sum", frames, _sum(stacked, (2, 3)))
        self._frame("hidden_states_abs_sum", frames, _abs_sum(stacked, (2, 3)))
        if self.tokens is not None:
            self._tap("hidden_states_tokens", frames, stacked[:, :, self.tokens])

    def _on_joint_ln(self, x: Tensor, frames: Tensor) -> None:
        per_layer = x.reshape(x.shape[0], x.shape[1], -1, self.width)  # [N, P, L, C]
        self._frame("joint_ln_sum_per_layer", frames, _sum(per_layer, (1, 3)))
        self._frame("joint_ln_abs_sum_per_layer", frames, _abs_sum(per_layer, (1, 3)))
        if self.tokens is not None:
            self._tap("joint_ln_tokens", frames, x[:, self.tokens[1:] - 1])

    def _on_mask_input(self, x: Tensor, frames: Tensor) -> None:
        self._frame("mask_branch_input_sum", frames, _sum(x, (1, 2)))
        self._frame("mask_branch_input_abs_sum", frames, _abs_sum(x, (1, 2)))
        if self.tokens is not None:
            self._tap("mask_branch_input_tokens", frames, x[:, self.tokens[1:] - 1])

    def _on_mask_p1(self, p1: Tensor, frames: Tensor) -> None:
        self._frame("mask_prob1_32x16", frames, p1.numpy())

    def _on_mask_tokens(self, fg: Tensor, frames: Tensor) -> None:
        self._frame("mask_32x16", frames, fg.numpy())
        up = F.interpolate(fg.float().unsqueeze(1), scale_factor=2, mode="bilinear", align_corners=False)
        self._frame("mask_64x32_bilinear", frames, up.squeeze(1).numpy())

    def _on_mask_map(self, fg: Tensor, frames: Tensor) -> None:
        self._frame("mask_64x32", frames, fg.numpy())

    def _on_humanspace_stages(self, stages: list[list[Tensor]], frames: Tensor) -> None:
        sums = np.stack([np.stack([_sum(t, tuple(range(1, t.dim()))) for t in g]) for g in stages])  # [J, 8, N]
        abs_sums = np.stack([np.stack([_abs_sum(t, tuple(range(1, t.dim()))) for t in g]) for g in stages])
        self._frame("humanspace_stage_sum", frames, np.moveaxis(sums, 2, 0))  # stored [N, J, 8]
        self._frame("humanspace_stage_abs_sum", frames, np.moveaxis(abs_sums, 2, 0))
        self.full.setdefault("humanspace_out", []).append((frames, torch.stack([g[-1] for g in stages], dim=1)))

    def _on_gait_input(self, maps: list[Tensor], frames: Tensor) -> None:
        x = torch.stack(maps, dim=1)  # [N, J, 16, h, w]
        self._frame("gait_input_sum", frames, _sum(x, (2, 3, 4)))
        self._frame("gait_input_abs_sum", frames, _abs_sum(x, (2, 3, 4)))
        self.full.setdefault("gait_input", []).append((frames, x))

    def _on_trunk(self, trunks: list[Tensor], frames: Tensor) -> None:
        x = torch.stack(trunks, dim=1)  # [N, J, C, h', w']
        self._frame("trunk_sum", frames, _sum(x, (2, 3, 4)))
        self._frame("trunk_abs_sum", frames, _abs_sum(x, (2, 3, 4)))
        self._frame("trunk_l2", frames, np.sqrt(x.double().pow(2).sum((2, 3, 4)).numpy()))
        self.full.setdefault("trunk", []).append((frames, x))

    def _assembled(self, name: str) -> Tensor:
        """``[ns, ...]`` in global frame order from the chunks."""
        parts = self.full[name]
        out = torch.empty(self.n * self.s, *parts[0][1].shape[1:], dtype=parts[0][1].dtype)
        for frames, x in parts:
            out[frames] = x
        return out

    def _cat_channels(self, name: str) -> Tensor:
        """``[ns, J, C, h, w]`` -> the reference's ``[n, J*C, s, h, w]`` (channel = group * C + c)."""
        x = self._assembled(name)
        _, j, c, h, w = x.shape
        return x.reshape(self.n, self.s, j * c, h, w).transpose(1, 2)

    def arrays(self, emb: Tensor, bnneck: Tensor, logits: Tensor) -> dict[str, np.ndarray]:
        """Golden-named arrays of the recorded forward; ``*_full`` entries are whole tensors that the
        golden stores sampled (the checks take the samples at the golden's indices)."""
        a = {k: v for k, v in self.per_frame.items() if not k.startswith("humanspace_stage")}
        for k in ("humanspace_stage_sum", "humanspace_stage_abs_sum"):
            a[k] = np.moveaxis(self.per_frame[k], 0, 2)  # [J, 8, ns]
        a["chunk_lengths"] = np.array(self.chunks, dtype=np.int64)
        for name, rows in self.tap_rows.items():
            a[name] = np.stack([rows[f] for f in self.taps])
        hs = self._assembled("humanspace_out")  # [ns, J, 16, h, w]
        a["humanspace_out_full"] = hs.transpose(0, 1).reshape(hs.shape[1], -1).numpy()  # [J, ns*16*h*w]
        a["humanspace_out_tap"] = hs[self.taps].numpy()
        a["gait_input_full"] = self._cat_channels("gait_input").reshape(-1).numpy()
        a["trunk_full"] = self._cat_channels("trunk").reshape(-1).numpy()
        groups = [self.pooled[i] for i in sorted(self.pooled)]
        tp = torch.stack([rec["tp"] for rec, _ in groups])  # [J, n_out, C, h', w']
        a["tp_full"] = tp.reshape(-1).numpy()
        a["tp_sum"], a["tp_abs_sum"] = _sum(tp, (2, 3, 4)), _abs_sum(tp, (2, 3, 4))
        a["hpp"] = torch.stack([rec["hpp"] for rec, _ in groups]).numpy()
        a["embed_per_group"] = torch.stack([outs[0] for _, outs in groups]).numpy()
        a.update(embeddings=emb.numpy(), bnneck_feat=bnneck.numpy(), logits=logits.numpy())
        p1 = a["mask_prob1_32x16"]
        a["mask_coverage_32x16"] = a["mask_32x16"].mean(axis=(1, 2), dtype=np.float64)
        a["mask_min_abs_p1_minus_half"] = np.float64(np.abs(p1.astype(np.float64) - 0.5).min())
        a["mask_64x32_equals_nearest_x2"] = np.bool_(np.array_equal(a["mask_64x32_bilinear"] > 0.5, a["mask_64x32"]))
        a["embeddings_equals_concat_of_groups"] = np.bool_(
            np.array_equal(a["embeddings"], np.concatenate(list(a["embed_per_group"]), axis=-1))
        )
        return a

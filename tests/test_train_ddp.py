"""Two-process DDP training on CPU (gloo): it finishes, and both ranks hold identical weights."""

from __future__ import annotations

import json
import os

import pytest
import torch
import torch.multiprocessing as mp
from helpers import assert_same_state, free_port, state_of, tiny_experiment, write_tiny_tree

from biggait.train import distributed as ddp

WORLD = 2


def _worker(rank: int, port: int, tmp: str) -> None:
    from pathlib import Path

    from biggait.train.loop import train_model

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    tmp_path = Path(tmp)
    # batch 2 x 2 per rank: P = 4 identities in the global batch, 2 per rank
    exp = tiny_experiment(
        tmp_path / "ccpg",
        tmp_path / "ccpg.json",
        **{"data.batch_p": 4, "train.total_iters": 6, "train.save_every": 2, "train.sync_bn": True},
    )
    try:
        result = train_model(exp, tmp_path / "run", progress=False)
        assert result.finished and result.iteration == 6
        assert any(isinstance(m, ddp.CPUSyncBatchNorm) for m in result.model.modules())
        assert not result.model.lvm.training
        torch.save(result.model.state_dict(), tmp_path / f"rank{rank}.pt")
    finally:
        ddp.cleanup()


@pytest.mark.slow
def test_two_process_ddp_training_keeps_ranks_identical(tmp_path):
    write_tiny_tree(tmp_path)
    mp.spawn(_worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    run = tmp_path / "run"
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert_same_state(r0, r1)  # weights and (synced) batch-norm statistics
    assert_same_state(state_of(run / "model.pt"), r0)
    # the frozen mask branch (from iteration 4) does not move under DDP either
    s4, s6 = state_of(run / "checkpoints" / "iter_000004.pt"), state_of(run / "checkpoints" / "iter_000006.pt")
    mask_keys = [k for k in s6 if k.startswith("gre.mask.")]
    assert mask_keys
    for k in mask_keys:
        assert torch.equal(s4[k], s6[k]), k
    assert not all(torch.equal(s4[k], s6[k]) for k in s6 if k.startswith("gaitbase."))
    # one log, written by rank 0; one generator state per rank in the checkpoints
    rows = [json.loads(x) for x in (run / "train_log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["frames_per_s"] > 0 and torch.isfinite(torch.tensor(r["total"])) for r in rows)
    ckpt = torch.load(run / "checkpoints" / "iter_000006.pt", weights_only=True)
    assert len(ckpt["rng"]) == WORLD and not torch.equal(ckpt["rng"][0]["torch"], ckpt["rng"][1]["torch"])

"""Built-in example: a small MLP classifier trained with DDP on synthetic data to a target loss.

Run it under ``lepton-train -m lepton.runtime.examples.classifier`` (or torchrun). It needs no
downloads: the data are Gaussian clusters generated from a fixed seed, identical on every rank.
It resumes from the newest checkpoint, checkpoints every epoch, stops cleanly on SIGTERM (exit
143 after a checkpoint), and saves the model through ``lepton.runtime.save_model``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from lepton.artifacts import MLPClassifier
from lepton.runtime import (
    PREEMPTED_EXIT_CODE,
    Context,
    init_process_group,
    install_sigterm_handler,
    load_latest_checkpoint,
    report_metrics,
    save_checkpoint,
    save_model,
    stop_requested,
)

# Exit code when the epochs ran out before the loss reached the target.
TARGET_MISSED_EXIT_CODE = 3


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lepton.runtime.examples.classifier", description=__doc__)
    parser.add_argument("--epochs", type=int, default=20, help="most epochs to train")
    parser.add_argument(
        "--target-loss", type=float, default=0.05, help="stop once the epoch loss is this low"
    )
    parser.add_argument(
        "--min-epochs", type=int, default=0, help="train at least this many epochs, even past the target"
    )
    parser.add_argument("--samples", type=int, default=2048, help="size of the synthetic dataset")
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--format",
        choices=["torch-export", "safetensors"],
        help="default: LEPTON_OUTPUT_FORMAT, else torch-export",
    )
    parser.add_argument("--keep-checkpoints", type=int, default=3)
    parser.add_argument(
        "--step-delay", type=float, default=0.0, help="seconds to sleep per step (tests slow training down)"
    )
    return parser.parse_args(argv)


def synthetic_dataset(samples: int, features: int, classes: int, seed: int) -> TensorDataset:
    """Gaussian clusters, one per class, overlapping a little so the loss falls over a few epochs;
    the same bytes on every rank and restart."""
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, features, generator=gen)
    labels = torch.randint(classes, (samples,), generator=gen)
    inputs = centers[labels] + torch.randn(samples, features, generator=gen)
    return TensorDataset(inputs, labels)


def say(ctx: Context, message: str) -> None:
    if ctx.rank == 0:
        print(f"lepton-example: {message}", flush=True)


def _global_mean(total: float, count: int, ctx: Context) -> float:
    if not ctx.distributed:
        return total / max(count, 1)
    buf = torch.tensor([total, float(count)], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(buf)
    return float(buf[0] / buf[1].clamp(min=1))


def train(args: argparse.Namespace) -> int:
    ctx = init_process_group()
    install_sigterm_handler()
    torch.manual_seed(args.seed)
    data = synthetic_dataset(args.samples, args.features, args.classes, args.seed)
    model = MLPClassifier(args.features, args.hidden, args.classes, depth=2).to(ctx.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    start_epoch, step, loss = 0, 0, float("inf")
    found = load_latest_checkpoint(map_location=ctx.device)
    if found is not None:
        model.load_state_dict(found.state["model"])
        optimizer.load_state_dict(found.state["optimizer"])
        start_epoch, step, loss = found.epoch, int(found.state["step"]), float(found.state["loss"])
        attempt = ctx.restart_attempt
        say(ctx, f"resumed at epoch {start_epoch} (restart attempt {attempt}, world size {ctx.world_size})")
    else:
        say(ctx, f"starting at epoch 0 (world size {ctx.world_size}, backend {ctx.backend})")
    net: nn.Module = DistributedDataParallel(model) if ctx.distributed else model
    sampler: DistributedSampler[tuple[torch.Tensor, ...]] = DistributedSampler(
        data, num_replicas=ctx.world_size, rank=ctx.rank, seed=args.seed
    )
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)
    criterion = nn.CrossEntropyLoss()

    def state() -> dict[str, object]:
        return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "loss": loss}

    epoch = start_epoch

    def done() -> bool:
        return bool(epoch >= args.epochs or (epoch >= args.min_epochs and loss <= args.target_loss))

    while not done():
        sampler.set_epoch(epoch)
        started, total, count = time.perf_counter(), 0.0, 0
        for batch_inputs, batch_labels in loader:
            inputs, labels = batch_inputs.to(ctx.device), batch_labels.to(ctx.device)
            optimizer.zero_grad(set_to_none=True)
            batch_loss = criterion(net(inputs), labels)
            batch_loss.backward()
            optimizer.step()
            step += 1
            total += float(batch_loss.detach()) * len(labels)
            count += len(labels)
            if args.step_delay:
                time.sleep(args.step_delay)
            if stop_requested(ctx.device):
                # Weights are mid-epoch; the checkpoint still says `epoch` so the epoch is re-run.
                save_checkpoint(state(), epoch, keep=args.keep_checkpoints)
                say(ctx, f"SIGTERM: checkpointed at epoch {epoch}, step {step}; exiting")
                return PREEMPTED_EXIT_CODE
        loss = _global_mean(total, count, ctx)
        elapsed = time.perf_counter() - started
        samples_per_second = count * ctx.world_size / elapsed
        epoch += 1
        report_metrics(step=step, epoch=epoch, loss=loss, samples_per_second=samples_per_second)
        save_checkpoint(state(), epoch, keep=args.keep_checkpoints)
        say(ctx, f"epoch {epoch} loss {loss:.4f} samples/s {samples_per_second:.0f}")

    if not loss <= args.target_loss:
        say(ctx, f"loss {loss:.4f} missed the target {args.target_loss} after {epoch} epochs")
        return TARGET_MISSED_EXIT_CODE
    with torch.no_grad():
        inputs, labels = data.tensors
        accuracy = float((model(inputs.to(ctx.device)).argmax(1) == labels.to(ctx.device)).float().mean())
    info = save_model(
        model, data.tensors[0][:2], format=args.format, metrics={"accuracy": accuracy, "epoch": epoch}
    )
    say(ctx, f"reached loss {loss:.4f} at epoch {epoch}; saved {info.uri} {info.digest}")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        code = train(args)
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    sys.exit(code)


if __name__ == "__main__":
    main()

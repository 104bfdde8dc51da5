#!/usr/bin/env python
"""Train a zoo model on MNIST, Fashion-MNIST or digits with minidl, PyTorch-example style.

    python scripts/train_mnist.py                          # MNIST, or bundled digits when offline
    python scripts/train_mnist.py --dataset fashion-mnist --model lenet5 --epochs 5
    python scripts/train_mnist.py --device cuda --checkpoint-dir runs/mlp --resume

Each epoch prints one line (train loss, test loss, test accuracy, seconds); a
checkpoint (model + optimizer) is written after every epoch, and ``--resume``
continues from it exactly: same epoch, same optimizer state, same data order.
"""
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), HERE]

import minidl as mdl  # noqa: E402
from minidl import backends, data, nn, optim, zoo  # noqa: E402
import train_args  # noqa: E402

OPTIMIZERS = {
    "sgd": lambda params, a: optim.SGD(params, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay),
    "adam": lambda params, a: optim.Adam(params, lr=a.lr, weight_decay=a.weight_decay),
    "adamw": lambda params, a: optim.AdamW(params, lr=a.lr, weight_decay=a.weight_decay),
    "rmsprop": lambda params, a: optim.RMSprop(params, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay),
}
CHECKPOINT_NAME = "last.safetensors"


def fail(message, code=2):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def load_data(args):
    """Train and test splits; falls back to digits (with one clear message) when the dataset is unavailable."""
    try:
        return [data.load_dataset(args.dataset, split, args.data_dir, download=not args.no_download)
                for split in ("train", "test")]
    except (data.DatasetUnavailableError, data.ChecksumError, data.IDXError) as err:
        if args.no_fallback or args.dataset == "digits":
            fail(f"{err}\nPass --data-dir with the IDX files or choose another --dataset.")
        print(f"note: {args.dataset} is not available ({err}).\n      Use --data-dir DIR with its IDX files, "
              f"or --dataset fashion-mnist / digits; --no-fallback makes this an error.\n"
              f"      Training on the bundled digits dataset instead.", file=sys.stderr)
        args.dataset = "digits"
        return [data.load_dataset("digits", split) for split in ("train", "test")]


def forward(model, x, grad_checkpoint):
    if grad_checkpoint and model.training:
        return nn.checkpoint_sequential(model, max(1, round(math.sqrt(len(model)))), x)
    return model(x)


def train_epoch(model, loader, optimizer, loss_fn, args, epoch):
    """One pass over the training data; returns the mean loss. The loss is read from the device every 20 steps."""
    model.train()
    from tqdm.auto import tqdm
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", unit="batch", leave=False,
               disable=True if args.quiet else None,  # None: no bar when stderr is not a terminal
               dynamic_ncols=True)
    total, seen, start = 0.0, 0, time.perf_counter()
    pending, pending_n = None, 0
    for step, (x, y) in enumerate(bar, 1):
        optimizer.zero_grad()
        loss = loss_fn(forward(model, x, args.grad_checkpoint), y)
        loss.backward()
        optimizer.step()
        batch_loss = loss.detach() * len(y)
        pending = batch_loss if pending is None else pending + batch_loss  # stays on the device
        pending_n += len(y)
        if step % 20 == 0 or step == len(loader):
            total, seen = total + pending.item(), seen + pending_n
            pending, pending_n = None, 0
            bar.set_postfix(loss=f"{total / seen:.4f}", samples_per_s=f"{seen / (time.perf_counter() - start):.0f}")
    return total / seen


def evaluate(model, loader, loss_fn):
    """Mean loss and accuracy over ``loader`` in eval mode, without recording."""
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    with mdl.no_grad():
        for x, y in loader:
            logits = model(x)
            loss_sum += loss_fn(logits, y).item() * len(y)
            correct += int((logits.argmax(dim=1) == y).astype("int64").sum().item())
            n += len(y)
    return loss_sum / n, correct / n


def make_scheduler(optimizer, args):
    if args.lr_schedule == "step":
        return optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    if args.lr_schedule == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    return None


def save_checkpoint(path, model, optimizer, scheduler, epoch, history):
    mdl.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
              "scheduler": scheduler.state_dict() if scheduler else None, "history": history}, path)


def write_json(path, obj):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def plot(path, history):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('note: --plot needs matplotlib: pip install "minidl[plot]"', file=sys.stderr)
        return
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax_loss.plot(epochs, [h["test_loss"] for h in history], "o-", label="test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [h["test_accuracy"] for h in history], "o-", color="tab:green")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    try:
        args = train_args.parse_args(argv)
        train_args.check_writable(args)
    except train_args.UsageError as err:
        fail(str(err))
    try:
        backend, args.device = backends.resolve(args.device)
    except (backends.DeviceUnavailableError, ValueError) as err:
        fail(str(err))
    args.dataset = args.dataset or train_args.FALLBACK["dataset"]
    train_set, test_set = load_data(args)
    try:
        train_args.resolve(args)
    except train_args.UsageError as err:
        fail(str(err))
    train_loader = data.DataLoader(train_set, args.batch_size, shuffle=True, seed=args.seed, device=args.device,
                                   dtype=args.dtype)
    test_loader = data.DataLoader(test_set, 1000, device=args.device, dtype=args.dtype)
    mdl.manual_seed(args.seed)
    model = zoo.create(args.model, input_shape=train_set.input_shape, num_classes=len(train_set.classes))
    model.to(args.dtype).to(args.device)
    optimizer = OPTIMIZERS[args.optimizer](model.parameters(), args)
    scheduler = make_scheduler(optimizer, args)
    loss_fn = nn.CrossEntropyLoss()

    history, first_epoch = [], 0
    checkpoint_path = os.path.join(args.checkpoint_dir, CHECKPOINT_NAME) if args.checkpoint_dir else None
    if args.resume and not os.path.exists(checkpoint_path):
        print(f"note: no checkpoint at {checkpoint_path} to resume from; starting from epoch 1", file=sys.stderr)
    elif args.resume:
        state = mdl.load(checkpoint_path, device=args.device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        first_epoch, history = state["epoch"], state["history"]
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        print(f"resumed from {checkpoint_path} after epoch {first_epoch}")
    if checkpoint_path:
        os.makedirs(args.checkpoint_dir, exist_ok=True)

    n_params = sum(p.numel() for p in model.parameters())
    print(f"minidl {mdl.__version__} | {args.model} ({n_params:,} parameters) | {args.dataset}: "
          f"{len(train_set):,} train / {len(test_set):,} test | device {args.device} | {args.optimizer} lr {args.lr}, "
          f"batch {args.batch_size}, {args.epochs} epochs")
    run_start = time.perf_counter()
    for epoch in range(first_epoch, args.epochs):
        mdl.manual_seed(args.seed * 10_007 + epoch)  # dropout masks depend on (seed, epoch) only: resumable
        train_loader.set_epoch(epoch)
        start = time.perf_counter()
        train_loss = train_epoch(model, train_loader, optimizer, loss_fn, args, epoch)
        backend.synchronize(args.device)
        seconds = time.perf_counter() - start
        test_loss, test_acc = evaluate(model, test_loader, loss_fn)
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "test_loss": test_loss,
                        "test_accuracy": test_acc, "seconds": seconds,
                        "samples_per_s": len(train_set) / seconds})
        print(f"epoch {epoch + 1:>2}/{args.epochs}  train loss {train_loss:.4f}  test loss {test_loss:.4f}  "
              f"test acc {test_acc:.4f}  {seconds:.2f}s")
        if scheduler is not None:
            scheduler.step()
        if checkpoint_path:
            save_checkpoint(checkpoint_path, model, optimizer, scheduler, epoch + 1, history)
        if args.metrics_json:
            write_json(args.metrics_json, {"args": vars(args), "history": history})

    if history:
        best = max(history, key=lambda h: h["test_accuracy"])
        print(f"done: test accuracy {history[-1]['test_accuracy']:.4f} (best {best['test_accuracy']:.4f} at epoch "
              f"{best['epoch']}), {time.perf_counter() - run_start:.2f}s this run")
    if args.plot and history:
        plot(args.plot, history)
    if args.save_weights and history:
        mdl.save(model.state_dict(), args.save_weights)
        print(f"saved the final weights to {args.save_weights} (test accuracy {history[-1]['test_accuracy']:.4f})")
    return history


if __name__ == "__main__":
    main()

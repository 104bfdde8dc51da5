#!/usr/bin/env python
"""The same training run in minidl and in PyTorch: same model, initial weights, batches and order.

    python scripts/compare_torch.py --dataset fashion-mnist --epochs 3
    python scripts/compare_torch.py --dataset fashion-mnist --model lenet5 --lr 0.03 --epochs 1

Epochs alternate between the two frameworks in one process, so both see the same
machine; each line gives test accuracy and seconds per epoch. Needs PyTorch
(pip install torch==2.13.0); minidl itself never does.
"""
import argparse
import os
import sys
import time
from collections import OrderedDict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minidl as mdl  # noqa: E402
from minidl import data, nn, optim, zoo  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="fashion-mnist", choices=["mnist", "fashion-mnist", "digits"])
    p.add_argument("--model", default="mlp", choices=["logreg", "mlp", "lenet5"])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def torch_twin(torch, model):
    """A PyTorch copy of a zoo Sequential (Linear, Conv2d, MaxPool2d and argument-free layers), same weights."""
    layers = OrderedDict()  # the zoo's child names, so the state dict keys match
    for name, layer in model.named_children():
        if isinstance(layer, nn.Linear):
            layers[name] = torch.nn.Linear(layer.in_features, layer.out_features)
        elif isinstance(layer, nn.Conv2d):
            layers[name] = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                                           layer.padding)
        elif isinstance(layer, nn.MaxPool2d):
            layers[name] = torch.nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding)
        else:
            layers[name] = getattr(torch.nn, type(layer).__name__)()  # Flatten, Sigmoid, ReLU, Tanh
    twin = torch.nn.Sequential(layers)
    twin.load_state_dict({name: torch.from_numpy(t.numpy()) for name, t in model.state_dict().items()})
    return twin


def run_epoch(step, loader):
    start = time.perf_counter()
    for x, y in loader:
        step(x, y)
    return time.perf_counter() - start


def main():
    args = parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("error: this comparison needs PyTorch: pip install torch==2.13.0")
    train, test = (data.load_dataset(args.dataset, split) for split in ("train", "test"))
    mdl.manual_seed(args.seed)
    model = zoo.create(args.model, input_shape=train.input_shape, num_classes=len(train.classes))
    twin = torch_twin(torch, model)
    opt_m = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    opt_t = torch.optim.SGD(twin.parameters(), lr=args.lr, momentum=args.momentum)
    loss_m, loss_t = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    loader = data.DataLoader(train, args.batch_size, shuffle=True, seed=args.seed)

    def step_m(x, y):
        opt_m.zero_grad()
        loss_m(model(x), y).backward()
        opt_m.step()

    def step_t(x, y):
        opt_t.zero_grad()
        loss_t(twin(torch.from_numpy(x.data)), torch.from_numpy(y.data)).backward()
        opt_t.step()

    x_test, y_test = mdl.tensor(test.inputs), test.targets
    print(f"{args.model} on {args.dataset}: SGD lr {args.lr} momentum {args.momentum}, batch {args.batch_size}; "
          f"minidl {mdl.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| epoch | minidl accuracy | minidl s | PyTorch accuracy | PyTorch s |\n|---|---|---|---|---|")
    for epoch in range(args.epochs):
        loader.set_epoch(epoch)
        seconds_m = run_epoch(step_m, loader)
        loader.set_epoch(epoch)
        seconds_t = run_epoch(step_t, loader)
        with mdl.no_grad(), torch.no_grad():
            acc_m = (model(x_test).argmax(dim=1).numpy() == y_test).mean()
            acc_t = (twin(torch.from_numpy(test.inputs)).argmax(dim=1).numpy() == y_test).mean()
        print(f"| {epoch + 1} | {acc_m:.4f} | {seconds_m:.2f} | {acc_t:.4f} | {seconds_t:.2f} |")


if __name__ == "__main__":
    main()

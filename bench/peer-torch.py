"""The PyTorch side of bench/peer.ts: the same models and workloads, written as
a PyTorch user would (nn.Sequential, F.cross_entropy, torch.optim, in-memory
tensors indexed by a shuffled permutation, no per-step .item()), on one thread.

Reads one workload name per line on stdin, runs it once and answers one JSON
line {"name", "value"}: samples/s for training, ms per batch for inference.
bench/peer.ts starts it once and interleaves its requests with its own runs.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)

BATCH = 64


def lenet5_classic():
    # LeCun et al. 1998 for 28x28 inputs: conv 6@5x5 (pad 2) - pool - conv 16@5x5 - pool - 120 - 84 - 10.
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def lenet5_caffe():
    # slimlab's zoo.lenet5: conv 20@5x5 - pool - conv 50@5x5 - pool - 500 relu - 10 (no activation after the convs).
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))


def lenet300100():
    return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


MODELS = {"lenet5-classic": (lenet5_classic, True), "lenet5-caffe": (lenet5_caffe, True), "lenet300100": (lenet300100, False)}
state = {}


def data(image, n):
    x = torch.rand(n, 1, 28, 28) if image else torch.rand(n, 784)
    return x, torch.randint(0, 10, (n,))


def train_epoch(model, opt, x, y):
    model.train()
    perm = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], BATCH):
        idx = perm[i:i + BATCH]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()


def training(model_name, optimizer, samples):
    key = (model_name, optimizer, samples)
    if key not in state:
        build, image = MODELS[model_name]
        model = build()
        opt = torch.optim.Adam(model.parameters(), 1e-3) if optimizer == "adam" else torch.optim.SGD(model.parameters(), 0.01)
        x, y = data(image, samples)
        train_epoch(model, opt, x, y)  # warm-up
        state[key] = (model, opt, x, y)
    model, opt, x, y = state[key]
    t = time.perf_counter()
    train_epoch(model, opt, x, y)
    return samples / (time.perf_counter() - t)


def inference(model_name, batch, calls):
    build, image = MODELS[model_name]
    key = ("infer", model_name)
    if key not in state:
        model = build().eval()
        state[key] = (model, data(image, batch)[0])
    model, x = state[key]
    times = []
    with torch.inference_mode():
        for _ in range(10):
            model(x)
        for _ in range(calls):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    times.sort()
    return 1000 * times[len(times) // 2]


def main():
    print(json.dumps({"ready": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req["kind"] == "train":
            value = training(req["model"], req["optimizer"], req["samples"])
        else:
            value = inference(req["model"], req["batch"], req["calls"])
        print(json.dumps({"name": req["name"], "value": value}), flush=True)


if __name__ == "__main__":
    main()

"""Integration: a small network learns scikit-learn's bundled digits (no download) in seconds."""
import numpy as np
from sklearn.datasets import load_digits

import minidl as mdl
from minidl import nn, optim


def test_mlp_reaches_95_percent_on_digits():
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:1400], order[1400:]
    mdl.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(1)
    for _ in range(15):
        for batch in np.array_split(rng.permutation(train), len(train) // 32):
            opt.zero_grad()
            loss_fn(model(mdl.tensor(x[batch])), mdl.tensor(y[batch])).backward()
            opt.step()
    with mdl.no_grad():
        predicted = model(mdl.tensor(x[test])).argmax(dim=1).numpy()
    accuracy = (predicted == y[test]).mean()
    assert accuracy > 0.95, accuracy

"""PyTorch programs, written as PyTorch users write them, run on minidl with only their import lines changed.

Each program is the text a PyTorch user would write (PyTorch's MNIST example and its quickstart, on
scikit-learn's bundled digits instead of a download). It runs once with minidl's imports and must
learn; where PyTorch is installed it runs again with PyTorch's imports, from minidl's initial
weights, and must reach the same numbers.
"""
import pytest
from threadpoolctl import threadpool_limits

from minidl import data

MINIDL_IMPORTS = """
import minidl as torch
import minidl.nn.functional as F
from minidl import nn, optim
from minidl.data import DataLoader, Dataset, TensorDataset
from minidl.optim.lr_scheduler import StepLR
"""

PYTORCH_IMPORTS = """
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torch.optim.lr_scheduler import StepLR
"""

MNIST_EXAMPLE = """
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1)
        self.conv2 = nn.Conv2d(16, 32, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(128, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % 40 == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    return test_loss, correct / len(test_loader.dataset)


def main(train_x, train_y, test_x, test_y, initial_state=None, epochs=3):
    torch.manual_seed(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_kwargs = {'batch_size': 16}
    test_kwargs = {'batch_size': 1000}
    dataset1 = TensorDataset(torch.tensor(train_x), torch.tensor(train_y))
    dataset2 = TensorDataset(torch.tensor(test_x), torch.tensor(test_y))
    train_loader = DataLoader(dataset1, **train_kwargs)
    test_loader = DataLoader(dataset2, **test_kwargs)
    model = Net().to(device)
    if initial_state is not None:
        model.load_state_dict({k: torch.tensor(v) for k, v in initial_state.items()})
    start = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    results = [test(model, device, test_loader)]
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(1, epochs + 1):
        train(model, device, train_loader, optimizer, epoch)
        results.append(test(model, device, test_loader))
        scheduler.step()
    return start, results
"""

QUICKSTART = """
class DigitsDataset(Dataset):
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return torch.tensor(self.images[idx]), int(self.labels[idx])


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(8 * 8, 64),
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.ReLU(),
            nn.Linear(64, 10)
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def train(dataloader, model, loss_fn, optimizer, device):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 40 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn, device):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \\n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \\n")
    return test_loss, correct


def main(train_x, train_y, test_x, test_y, initial_state=None, epochs=5):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_dataloader = DataLoader(DigitsDataset(train_x, train_y), batch_size=16)
    test_dataloader = DataLoader(DigitsDataset(test_x, test_y), batch_size=64)
    model = NeuralNetwork().to(device)
    print(model)
    if initial_state is not None:
        model.load_state_dict({k: torch.tensor(v) for k, v in initial_state.items()})
    start = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    results = []
    for t in range(epochs):
        print(f"Epoch {t+1}\\n-------------------------------")
        train(train_dataloader, model, loss_fn, optimizer, device)
        results.append(test(test_dataloader, model, loss_fn, device))
    return start, results
"""


def run(imports, program, **kwargs):
    """Execute ``imports + program`` as a script would, then call its ``main``."""
    namespace = {"__name__": "program"}
    exec(compile(imports + program, "<PyTorch program>", "exec"), namespace)  # noqa: S102 - our own text
    return namespace["main"](*DIGITS, **kwargs)


def _digits():
    train, test = data.load_dataset("digits", "train"), data.load_dataset("digits", "test")
    return train.inputs, train.targets, test.inputs, test.targets


DIGITS = _digits()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """BLAS (and PyTorch) on one thread: on these tiny matrices a thread pool only waits for its threads,
    up to 15x slower on a busy machine."""
    try:
        import torch
    except ImportError:
        torch = None
    threads = torch.get_num_threads() if torch else None
    with threadpool_limits(1):
        if torch:
            torch.set_num_threads(1)
        yield
        if torch:
            torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mnist_on_minidl():
    return run(MINIDL_IMPORTS, MNIST_EXAMPLE)


@pytest.fixture(scope="module")
def quickstart_on_minidl():
    return run(MINIDL_IMPORTS, QUICKSTART)


def test_mnist_example_learns_digits_on_minidl(mnist_on_minidl):
    _, results = mnist_on_minidl
    (loss0, acc0), (loss, acc) = results[0], results[-1]
    assert acc0 < 0.25 and acc > 0.85 and loss < loss0 / 3, results  # chance is 0.1


def test_quickstart_learns_digits_on_minidl(quickstart_on_minidl):
    _, results = quickstart_on_minidl
    assert results[-1][1] > 0.9 and results[-1][0] < results[0][0], results


def test_mnist_example_matches_pytorch_from_the_same_weights(mnist_on_minidl):
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    start, ours = mnist_on_minidl
    _, theirs = run(PYTORCH_IMPORTS, MNIST_EXAMPLE, initial_state=start)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-5)  # the same model before training: the same numbers
    (loss_m, acc_m), (loss_t, acc_t) = ours[-1], theirs[-1]  # dropout draws differ: close, not equal
    assert abs(acc_m - acc_t) < 0.03 and loss_m == pytest.approx(loss_t, rel=0.3), (ours, theirs)


def test_quickstart_matches_pytorch_from_the_same_weights(quickstart_on_minidl):
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    start, ours = quickstart_on_minidl
    _, theirs = run(PYTORCH_IMPORTS, QUICKSTART, initial_state=start)
    for (loss_m, acc_m), (loss_t, acc_t) in zip(ours, theirs):  # no randomness: the same numbers
        assert loss_m == pytest.approx(loss_t, rel=1e-4) and acc_m == pytest.approx(acc_t, abs=1 / 359)

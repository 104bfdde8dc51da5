"""Layers, losses and containers with PyTorch's names: ``from minidl import nn``."""
from . import functional, init, parallel, utils
from .activation import Dropout, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .checkpoint import checkpoint, checkpoint_sequential
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .linear import Flatten, Identity, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, ModuleList, Parameter, Sequential
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = ["functional", "init", "parallel", "utils", "Module", "Parameter", "Sequential", "ModuleList", "Linear",
           "Identity", "Flatten", "Sigmoid", "ReLU", "Tanh", "Softmax", "LogSoftmax", "Dropout", "Conv2d",
           "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "CrossEntropyLoss",
           "NLLLoss", "MSELoss", "BCEWithLogitsLoss", "checkpoint", "checkpoint_sequential"]

"""Feature backbones written in vislang (no torchvision): architectures only; weights come from
:mod:`vislang.weights`."""

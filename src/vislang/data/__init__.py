"""Data layer: image sources, caption formats, built-in captioned scenes, MNIST/Fashion-MNIST readers, vocabularies.

Images cross module boundaries as ``torch.uint8`` N x 3 x H x W RGB tensors; captions as
``dict[image_id, list[str]]`` (references) and ``dict[image_id, str]`` (candidates)."""

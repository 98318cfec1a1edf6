"""Pure torch modules: generators, captioners, dual encoders and feature backbones. No file I/O here."""

"""Training loops (GAN, captioner, dual encoder) built on one small kit, :mod:`vislang.train.loop`."""

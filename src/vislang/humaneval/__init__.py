"""Human evaluation: a local rating app (Flask + SQLite) for image realism, caption quality and
pairwise preference.  See docs/humaneval.md; the statistics that compare metrics with the ratings
are in :mod:`vislang.metrics.meta`."""

"""The book's machinery, beside the methods (ARCHITECTURE.md): what turns ``dipcore``'s methods
into the pages of the book and keeps every number they show.

* ``spec``: run specifications and their content-addressed keys.
* ``store``: the run store, storage only (atomic writes, checksums, damaged files).
* ``recipe``: what a run does before training: init -> prune -> recover; measurements.
* ``executor``: which runs are missing, their dependencies, stacks, shards, checkpoints.
* ``protocol``, ``grids``: the scale of a grid and the paper's grids (and its four hypotheses).
* ``claims``: the rules that turn samples of runs into verdicts; ``evidence``: tables and
  verdicts from stored records; ``paper``: the paper's reported numbers.
* ``chapter``: a chapter's parameters and store; ``pages``: what pages of one shape show;
  ``plotting``: one style for every figure; ``cli``: ``python -m dipcore``.
"""

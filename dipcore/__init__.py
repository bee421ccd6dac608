"""dipcore: the methods of "Dynamical Isometry: The Missing Ingredient for Neural Network
Pruning" (Wang et al., 2021) as a small library.

Modules: ``models`` (the four networks), ``prune`` (L1 structured pruning), ``jsv`` (Jacobian
singular values, Eq. 1), ``isometry`` (OrthP, Eq. 2; orthogonal init), ``schedule`` (LR
schedules), ``data`` (datasets as tensors), ``train`` (stacked SGD training), ``spec`` and
``runs`` (the content-addressed run store), ``protocol`` and ``grids`` (the paper's grids).
"""
__version__ = "0.1.0"

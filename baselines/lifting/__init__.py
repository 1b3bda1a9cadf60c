"""Task 3 baseline: monocular 2D-to-3D lifting with the simple-baseline residual MLP (PyTorch).

``data`` (dataset -> normalised arrays), ``model`` (the network, normalisation inside),
``train`` and ``evaluate`` (command lines), ``quick`` (the demo's few-minute run).
"""

"""The biomechanical model and what runs on it: the model table, numpy kinematics, the OpenSim
model, scaling, inverse kinematics (frame by frame and temporal), virtual vertebra markers,
curvature. Only ``osim``, ``ik``, ``scaling``, ``user_model``, ``opensim_files`` and
``simspine_model`` import opensim, lazily (``pipeline`` for type hints)."""

"""The biomechanical model and what runs on it: the model table, numpy kinematics, the OpenSim
model, scaling, inverse kinematics, virtual vertebra markers, curvature. Only ``osim``, ``ik`` and
``scaling`` import opensim, lazily."""

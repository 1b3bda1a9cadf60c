"""What ``simspine`` runs: ``build`` (and ``distributed``) order the stages over a capture;
``validate``, ``card`` (with its ``figures``), ``export``, ``publish``, ``view`` and ``demo`` read or
ship a build. Commands import stages; no stage imports a command."""

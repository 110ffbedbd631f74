"""The names the command line offers as choices — samplers, training methods, optimizers, log Z methods —
spelled out here so that building the parser (``ebmppl --help``) imports no JAX.

Each tuple equals the table of the module that implements the choices (``tests/test_startup.py`` checks
them): a name added there must be added here to reach the command line.
"""

SAMPLERS = ("auto", "nuts", "hmc", "mala", "ula", "rwmh", "gibbs", "gwg", "pt")  # infer.sample.SAMPLERS
FIT_METHODS = ("auto", "cd", "pcd", "sm", "ssm", "dsm", "nce", "fce", "vi", "mle", "ce")  # training.api.METHODS
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad", "lamb", "adabelief")  # training.trainer.OPTIMIZERS
LOGZ_METHODS = ("auto", "exact", "quadrature", "ais")  # ebmppl.partition.METHODS
SCORE_LOGZ = ("auto", "nce", "exact", "quadrature", "ais", "none")

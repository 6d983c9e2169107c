"""Training a VAE: :func:`build_vae` and :func:`train` (Keras ``fit`` with the callbacks of
:mod:`.callbacks`), the run folder that makes training resumable (:mod:`.runs`), and training on
several devices or machines with ``tf.distribute`` (:mod:`.distribute`, :mod:`.shares`, :mod:`.workers`).
The rest is imported from its module.
"""

from vae_tutorial.training.callbacks import (CollapseWatch, SampleGrid, StopOnDivergence, Throughput,
                                             TrainingDiverged)
from vae_tutorial.training.runs import RunFolderError, history_epochs, resume_epoch, run_state
from vae_tutorial.training.trainer import build_vae, epochs_from_env, report_loss_scale, train, training_callbacks

__all__ = ["build_vae", "train", "training_callbacks", "epochs_from_env", "report_loss_scale",
           "TrainingDiverged", "StopOnDivergence", "SampleGrid", "Throughput", "CollapseWatch",
           "RunFolderError", "resume_epoch", "history_epochs", "run_state"]

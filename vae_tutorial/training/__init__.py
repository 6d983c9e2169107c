"""Training a VAE: :func:`build_vae` and :func:`train` (Keras ``fit`` with the callbacks of
:mod:`.callbacks`), the run folder that makes training resumable (:mod:`.runs`), and training on
several devices or machines with ``tf.distribute`` (:mod:`.distribute`).
"""

from vae_tutorial.training.callbacks import (TrainingDiverged, StopOnDivergence, SampleGrid, Throughput,
                                             CollapseWatch)
from vae_tutorial.training.distribute import (STRATEGIES, make_strategy, worker, configured_worker,
                                              worker_share, per_worker_pipeline, gather_from_workers,
                                              lost_worker, TrainingPhase, ReplicaSampling, DistributedVAE,
                                              vae_class)
from vae_tutorial.training.runs import (TMP_MARK, OUTPUTS, CONFIG_KEYS, CONFIG_DEFAULTS,
                                        RunFolderError, replace_atomically, remove_temporary_files,
                                        AtomicCheckpoint, repair_backup, resume_epoch, trim_history,
                                        history_epochs, write_config, clear, run_state)
from vae_tutorial.training.trainer import (epochs_from_env, build_vae, training_callbacks, train,
                                           report_loss_scale)

"""What each command of ``vae-tutorial`` computes, callable from a notebook or a script; :mod:`vae_tutorial.cli`
parses the command line into these and prints.

- :mod:`.train`: :func:`~.train.train_run` trains (or resumes, or redraws) the run of a :class:`~.train.TrainSettings`
  in its run folder;
- :mod:`.images`: :func:`~.images.generated_images` and :func:`~.images.reconstructed_images`, as PNGs;
- :mod:`.evaluate`: :func:`~.evaluate.held_out_images` of a run, :func:`~.evaluate.evaluate_held_out` and
  :func:`~.evaluate.two_sample_tests`.

Each raises :class:`~vae_tutorial.config.UsageError` (one line) for what the user can fix.
"""

"""The course's helpers: the exercises' checkers (:mod:`.exercises`), grading a notebook
(:mod:`.grading`, :mod:`.verdicts`), showing the package's source in a notebook (:mod:`.source`)
and the latent-space explorer (:mod:`.widgets`)."""

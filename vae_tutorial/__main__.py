import sys

from vae_tutorial.cli import main

sys.exit(main())

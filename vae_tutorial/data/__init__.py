"""Images in, arrays and batches out.

- :mod:`.images`: one image file to one 64×64 RGB array (:func:`decode_image`, :func:`preprocess_image`);
- :mod:`.folders`: a messy folder to its usable images, with the reason for each file skipped;
- :mod:`.cache`: the decoded images kept in memory or on disk for later runs;
- :mod:`.pipeline`: the split and the ``tf.data`` pipeline, and :func:`load_dataset`;
- :mod:`.emoji` and :mod:`.shapes`: the built-in data sets;
- :mod:`.sources`: a data set by name (emoji, shapes or a folder), as the command line takes it.
"""

from vae_tutorial.data.cache import (FORMAT, CACHE_DIR_ENV, DEFAULT_MEMORY_BUDGET, Decoded, CacheError,
                                     default_cache_dir, format_bytes, ImageStore, find_store, load_or_build)
from vae_tutorial.data.emoji import (EMOJI_PACKAGE, EMOJI_VERSION, EMOJI_INSTALL, emoji_package_dir,
                                     emoji_dir, emoji_metadata, emoji_group_of)
from vae_tutorial.data.folders import ImageFolder, list_images, find_images, decode_files, first_usable  # noqa: F401
from vae_tutorial.data.images import (IMAGE_SIZE, IMAGE_EXTENSIONS, MAX_PIXELS, DECODER_VERSION, DataError,
                                      decode_image, preprocess_image)
from vae_tutorial.data.pipeline import split_paths, make_pipeline, read_images, load_dataset, take_images  # noqa: F401
from vae_tutorial.data.shapes import SHAPES, draw_shape, shape_factors, make_shapes, read_shape_factors  # noqa: F401

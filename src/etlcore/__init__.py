"""etlcore: the Qianfan data-cleaning operators over local corpora, with the same result JSON.

Library interface (SPEC section 8):
    etlcore.run(config, inputs, output, **options) -> dict           # the result JSON
    etlcore.Pipeline(config).run_table(table) -> (kept, rejected, detail)
    etlcore.registry                                                  # the operator classes
    etlcore.simhash_fingerprints(texts) -> numpy uint64 array         # deduplication's fingerprints
"""

import logging

__version__ = "0.1.0"

from etlcore.kernelcache import use_a_writable_folder

use_a_writable_folder()  # before any module defines a kernel

from etlcore import registry  # noqa: E402
from etlcore.errors import ConfigError, EtlError  # noqa: E402
from etlcore.pipeline import Pipeline  # noqa: E402
from etlcore.runner import run  # noqa: E402
from etlcore.simhash import simhash_fingerprints  # noqa: E402

__all__ = ["ConfigError", "EtlError", "Pipeline", "__version__", "registry", "run", "simhash_fingerprints"]

# A library prints nothing unless asked: what a run says goes to this logger (and to the run's log file).
logging.getLogger("etlcore").addHandler(logging.NullHandler())

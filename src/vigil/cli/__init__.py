"""The `vigil` command."""

import os

# polars allocates with jemalloc, which by default keeps 4 arenas per core and does not
# hand memory freed in one arena to another thread's: with parse threads and the
# detection stage allocating at once, that alone cost ~40 MB of peak RSS on 1M sshd
# lines with the rule pack (466 -> 410 MB, CPU unchanged). Read when polars loads, so it
# is set here, before anything imports polars; an operator's own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "narenas:2")
# numpy's OpenBLAS starts a thread per core at import, and they spin a while waiting for
# work: `import numpy` cost 134-150 ms of CPU instead of 79-86 (min-median of 20 runs),
# for a library vigil uses for integer window arithmetic, never for BLAS. Same rule.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

"""The `vigil` command."""

import os

# polars allocates with jemalloc, which by default keeps 4 arenas per core and does not
# hand memory freed in one arena to another thread's: with parse threads and the
# detection stage allocating at once, that alone cost ~40 MB of peak RSS on 1M sshd
# lines with the rule pack (466 -> 410 MB, CPU unchanged). Read when polars loads, so it
# is set here, before anything imports polars; an operator's own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "narenas:2")

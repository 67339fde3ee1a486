"""Frontdesk, an omnichannel customer-service platform."""

import os

# One BLAS thread per process unless the operator says otherwise (set before numpy loads):
# the knowledge base's vector products are small (a query against every example question),
# and OpenBLAS's default of a thread per core spins them on every core the server and the
# embedder share. Measured (docs/knowledge.md): a query's scoring cost 13.5 ms of CPU with
# two BLAS threads on the 2-core machine, 2.6 ms with one.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

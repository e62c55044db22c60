"""The cost model behind *Why LLM inference is fast or slow*.

Modules, in the one direction their imports flow (a module imports only from those
above it):

* ``units``, ``dtypes`` -- SI units and their display; number formats and their sizes
* ``hardware`` -- the sourced device catalog (dense peaks, bandwidth, capacity, hierarchy)
* ``roofline``, ``kernels`` -- attainable FLOP/s, ridge, kernel time and bound; FLOPs and
  bytes of vector ops, dot, GEMV, GEMM, norms, softmax
* ``memory`` -- transfers, latency and the memory hierarchy (chapter 1)
* ``models`` -> ``inference`` -> ``cli`` -- transformer configs, per-op prefill/decode
  costs, and the ``python -m lib`` calculator
* ``plotting``, ``widgets``, ``exercises`` -- figures, the chapters' explorers, and
  feedback on exercise answers

Import what you need explicitly, e.g. ``from lib import hardware, roofline``.
"""

__version__ = "0.1.0"

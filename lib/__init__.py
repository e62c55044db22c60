"""The cost model behind *Why LLM inference is fast or slow*.

Modules, in the one direction their imports flow (a module imports only from those
above it):

* ``units``, ``dtypes``, ``tables``, ``book``, ``timing`` -- SI units and their display; number
  formats and their sizes; the one table every listing prints as; numbers glued into the
  prose; timing on the reader's machine (warm-up, repeats, median and spread)
* ``hardware`` -- the sourced device catalog (dense peaks, bandwidth, capacity, hierarchy,
  compute units, special-function rate, links), each figure with its provenance
* ``measurements`` -- published measurements of real runs on catalog devices (a matrix
  product's best FLOP/s, an attention kernel's, a decode loop's tokens per second), each
  with its conditions and source
* ``efficiency`` -- what real kernels achieve on each device (sustained bandwidth, the best
  matrix product, attention, launch costs, dequantisation), the calibrated estimate's factors
* ``roofline`` -- attainable FLOP/s, ridge, kernel time, the one tie rule, MBU and MFU
* ``kernels`` -- FLOPs and bytes (split into weights, KV cache and activations) of every
  kernel: vector ops, dot, GEMV, GEMM, norms, softmax, activation, lookup, attention
* ``memory`` -- transfers, latency and the memory hierarchy (chapter 1)
* ``comm`` -- device-to-device links: the latency-bandwidth cost of an all-reduce, a
  point-to-point transfer, an all-to-all
* ``models`` -- transformer configs from ``config.json``: parameters, KV bytes per token
* ``capacity`` -- what fits in memory: weights, KV cache, the largest batch or context
* ``transformer`` -- what one forward pass does, op by op: FLOPs and bytes
* ``inference`` -- what it costs on a device: per-op time, floor, calibrated estimate,
  prefill, decode, MBU and MFU of a measured time
* ``runs`` -- published end-to-end inference runs beside the model's three times
* ``regimes`` -- where the bound flips: critical batch, shortest compute-bound prompt
* ``quantisation`` -- fewer bytes per token: quantised weights and KV cache (scales
  included), the capacity and step time they buy
* ``paging`` -- KV-cache allocation: reservation policies and paged blocks over realistic
  request lengths, the batch that fits, prefix sharing with copy-on-write
* ``occupancy`` -- split-KV decode attention: blocks, waves, busy SMs, the best split
* ``fusion`` -- a forward's kernels at three fusion levels, with and without CUDA graphs
* ``speculative`` -- speculative and multi-token decoding: tokens per verification, the
  draft and the verification priced on a device, token trees
* ``prefill`` -- a prefill's kernels at each fusion level, attention under causal,
  sliding-window and block-sparse masks, the launch-bound prompt, chunked prefill and decode
  piggybacking
* ``parallel`` -- scaling out: tensor, pipeline, expert and sequence parallelism; sharding
  tables; published multi-GPU scaling measurements
* ``serving`` -- serving many users: a discrete-event simulator of one instance (arrivals,
  static, continuous, chunked-prefill and disaggregated scheduling, KV allocators and
  preemption), every step priced by the cost model
* ``tiny`` -- a decoder-only transformer in plain numpy (RMSNorm, RoPE, grouped-query
  attention, SwiGLU, a KV cache; GPT-2's block too) whose FLOPs and bytes, counted as it
  runs, equal ``transformer``'s; its prefill and decode timed on the reader's CPU
* ``measure`` -- the reader's machine measured with numpy: bandwidth per memory level,
  achievable FLOP/s per dtype (medians, spread, provenance), a dialled-intensity kernel, the
  fitted roofline and predictions of a forward's time from it; the GPU where PyTorch finds one
* ``cli`` -- the ``python -m lib`` calculator
* ``plotting``, ``diagrams``, ``widgets``, ``exercises`` -- plots, schematic diagrams of
  the mechanisms, the chapters' explorers, and feedback on exercise answers (they compute
  nothing the modules above do not)

Import what you need explicitly, e.g. ``from lib import hardware, roofline``.
"""

#: The book's and the package's version (pyproject.toml reads it; CITATION.cff, CHANGELOG.md
#: and the website's footer must agree: tests/test_publishing.py).
__version__ = "0.5.0"

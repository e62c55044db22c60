"""The cost model behind *Why LLM inference is fast or slow*.

Modules, in the one direction their imports flow:

``units``, ``dtypes`` -> ``hardware`` -> ``roofline``, ``kernels`` -> ``plotting`` -> ``widgets``
(``kernels`` -> ``models`` -> ``inference`` -> ``cli``, the ``python -m lib`` calculator)

Import what you need explicitly, e.g. ``from lib import hardware, roofline``.
"""

__version__ = "0.1.0"

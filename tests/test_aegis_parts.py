"""AEGIS's parts on hand-made tensors: DGR's projection and rectification, the omega rule, and the
prefix-token encoder shared with the attacks."""

import torch

from erasure.methods.aegis import project_gradient, rectify, update_omega
from erasure.text import encode_prompts, encode_with_prefix, load_minilm


def test_no_conflict_leaves_the_gradient_unchanged():
    g_e, g_r = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0])
    p = project_gradient(g_e, g_r)
    assert torch.equal(rectify(g_e, g_r, p, omega=1.0), g_e)


def test_conflict_with_omega_one_gives_a_gradient_orthogonal_to_g_r():
    g_e, g_r = torch.tensor([-3.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    p = project_gradient(g_e, g_r)
    out = rectify(g_e, g_r, p, omega=1.0)
    assert abs(float((out * g_r).sum())) < 1e-6
    assert float((out * g_e).sum()) > 0  # still a descent direction for L_e


def test_partial_omega_removes_part_of_the_conflict():
    g_e, g_r = torch.tensor([-2.0, 1.0]), torch.tensor([1.0, 0.0])
    out = rectify(g_e, g_r, project_gradient(g_e, g_r), omega=0.5)
    assert torch.allclose(out, torch.tensor([-1.0, 1.0]))


def test_zero_retention_gradient_is_handled():
    g_e, g_r = torch.tensor([1.0, -1.0]), torch.zeros(2)
    assert project_gradient(g_e, g_r) is None
    assert torch.equal(rectify(g_e, g_r, None, omega=1.0), g_e)


def test_omega_stays_within_its_bounds():
    g_e, p = torch.tensor([1.0]), torch.tensor([1.0])
    omega = 0.05
    for _ in range(5):
        omega = update_omega(omega, g_e, p, mu=0.1, omega_max=1.0)
        assert 0.0 <= omega <= 1.0
    assert omega == 0.0
    for _ in range(30):
        omega = update_omega(omega, g_e, -p, mu=0.1, omega_max=1.0)
        assert 0.0 <= omega <= 1.0
    assert omega == 1.0


def test_prefix_encoder_equals_the_plain_encoder_for_a_real_token():
    tokenizer, encoder = load_minilm()
    red = tokenizer("red", add_special_tokens=False).input_ids
    assert len(red) == 1
    prefix = encoder.get_input_embeddings().weight[red].detach()
    with_prefix = encode_with_prefix(tokenizer, encoder, ["house on fire", "star"], prefix)
    plain = encode_prompts(tokenizer, encoder, ["red house on fire", "red star"])
    assert with_prefix.shape == plain.shape
    assert torch.allclose(with_prefix, plain, atol=1e-5)


def test_prefix_encoder_is_differentiable_in_the_prefix():
    tokenizer, encoder = load_minilm()
    prefix = torch.zeros(1, encoder.config.hidden_size, requires_grad=True)
    encode_with_prefix(tokenizer, encoder, ["house"], prefix).pow(2).sum().backward()
    assert prefix.grad is not None and prefix.grad.abs().sum() > 0

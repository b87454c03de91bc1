"""The course's pictures (coursekit/assignments/<short>/pictures.py): each is built, and what it claims
is checked against the code it depicts."""
from __future__ import annotations

import pytest
import torch

from coursekit.kit.diagrams import Diagram, figure_texts


def test_diagram_rejects_an_unknown_kind_and_a_box_drawn_twice():
    d = Diagram()
    d.box("a", 0, 0, "a", "norm")
    with pytest.raises(ValueError, match="kind"):
        d.box("b", 0, 1, "b", "colourful")
    with pytest.raises(ValueError, match="twice"):
        d.box("a", 0, 1, "a again", "norm")


# ---------------------------------------------------------------- 05: RDT
def test_rdt_routing_is_measured_from_inject_conditions():
    from coursekit.assignments.robotic_dits.pictures import injection_routing, rdt_block_figure
    from solutions.robotic_dits import inject_conditions

    measured = injection_routing(inject_conditions, depth=4)
    assert measured == ["language", "image", "language", "image"]
    assert measured == injection_routing(None, depth=4)        # the default picture shows what the code does

    def all_language(x, blocks, lang_tokens, img_tokens, lang_mask=None, img_mask=None):
        for block in blocks:
            x = block(x, lang_tokens, lang_mask)
        return x

    assert injection_routing(all_language, depth=3) == ["language"] * 3
    texts = figure_texts(rdt_block_figure(all_language, depth=3))
    assert "block 1: cross-attends to language" in texts and "block 1: cross-attends to image" not in texts


def test_rdt_figure_names_the_parts_of_the_block():
    from coursekit.assignments.robotic_dits.pictures import rdt_block_figure

    texts = figure_texts(rdt_block_figure())
    for part in ("RMSNorm", "self-attention, QK-norm", "cross-attention, QK-norm", "feed-forward (MLP)",
                 "block 0: cross-attends to language", "block 1: cross-attends to image"):
        assert part in texts, part
    assert texts.count("+") == 3                                # three residual sums per block


# ---------------------------------------------------------------- 04: DiT
def test_dit_figure_names_the_six_vectors_in_the_order_the_block_splits_them():
    import inspect

    from coursekit.assignments.diffusion_transformer.pictures import MODULATION, dit_block_figure
    from solutions.diffusion_transformer import DiTBlock

    assert ", ".join(MODULATION) + " =" in inspect.getsource(DiTBlock.forward)
    texts = " ".join(figure_texts(dit_block_figure()))
    for name in MODULATION + ("LayerNorm (no affine)", "multi-head self-attention", "t_embedder", "y_embedder"):
        assert name in texts, name


def test_the_dit_figures_claim_a_fresh_block_is_the_identity_holds():
    from solutions.diffusion_transformer import DiTBlock

    torch.manual_seed(0)
    block = DiTBlock(hidden_size=32, num_heads=4)
    x, c = torch.randn(2, 16, 32), torch.randn(2, 32)
    assert torch.equal(block(x, c), x)
    with torch.no_grad():
        block.adaLN_modulation[-1].bias.fill_(0.5)                  # gates no longer 0
    assert not torch.allclose(block(x, c), x)


# ---------------------------------------------------------------- 09: pi0
def test_pi0_mask_panel_is_the_mask_functions_output():
    from coursekit.assignments.pi0.pictures import pi0_layer_figure
    from solutions.pi0 import blockwise_mask

    fig = pi0_layer_figure(blockwise_mask, num_prefix=6, num_state=1, num_actions=5)
    heat = next(t for t in fig.data if t.type == "heatmap")
    assert (torch.tensor(heat.z) == blockwise_mask(6, 1, 5).int()).all()

    def causal(P, S, A):
        return torch.ones(P + S + A, P + S + A).tril().bool()

    heat = next(t for t in pi0_layer_figure(causal).data if t.type == "heatmap")
    assert (torch.tensor(heat.z) == causal(6, 1, 5).int()).all()          # drawn from the function, not by hand
    assert not (torch.tensor(heat.z) == blockwise_mask(6, 1, 5).int()).all()


def test_pi0_figure_names_both_sets_of_weights_and_rejects_a_bad_mask():
    from coursekit.assignments.pi0.pictures import pi0_layer_figure
    from coursekit.validate import ShapeError
    from solutions.pi0 import blockwise_mask

    texts = " ".join(figure_texts(pi0_layer_figure(blockwise_mask)))
    for part in ("ONE shared attention", "VLM weights", "action-expert weights", "prefix:", "suffix:"):
        assert part in texts, part
    with pytest.raises(ShapeError, match="blockwise_mask"):
        pi0_layer_figure(lambda P, S, A: torch.ones(3, 3, dtype=torch.bool))


# ---------------------------------------------------------------- 03: Diffusion Policy
def test_expert_modes_mirror_each_other_about_the_centre_line():
    from coursekit.assignments.diffusion_policy.pictures import mode_chunks
    from coursekit.assignments.diffusion_policy.point_robot import OBSTACLE

    left, right = mode_chunks(To=2, Tp=16)
    assert torch.allclose(left[:, 0] - OBSTACLE[0], -(right[:, 0] - OBSTACLE[0]), atol=1e-4)
    assert torch.allclose(left[:, 1], right[:, 1])
    assert float(left[-1, 0]) < OBSTACLE[0] - 10 and torch.equal(left[0], left[1])   # index 0 pads step -1


@pytest.fixture
def one_thread():
    """As in the notebook: a tiny model trains fastest on one thread (and two threads crawl on a busy box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_chunks_split_into_the_two_modes_for_the_trained_policy_and_not_for_the_untrained(one_thread):
    from coursekit.assignments.diffusion_policy.pictures import denoising_split, split_figure
    from coursekit.assignments.diffusion_policy.point_robot import START, Normalizer, expert_demos
    from coursekit.assignments.diffusion_policy.policies import ActionConvNet, diffusion_loss
    from coursekit.kit.diffusion import cosine_alpha_bar
    from coursekit.kit.train import train
    from solutions.diffusion_policy import ConditionalResidualBlock1D, make_windows

    To, Tp, Ta, T, STEPS, BATCH, LR = 2, 16, 8, 100, 400, 64, 3e-3          # the notebook's settings
    demos = expert_demos(100, torch.Generator().manual_seed(0))
    normalizer = Normalizer.fit(demos.obs, demos.actions)
    obs_w, act_w = make_windows(normalizer.normalize(demos.obs), normalizer.normalize(demos.actions),
                                demos.episode_ends, To, Tp, Ta)
    alpha_bar = cosine_alpha_bar(T)
    torch.manual_seed(0)
    net = ActionConvNet(ConditionalResidualBlock1D, To=To, horizon=Tp)
    history = torch.tensor(START).expand(To, 2).clone()
    untrained = denoising_split(net, normalizer, alpha_bar, history, num_samples=32, seed=0).claims()
    train(net, lambda idx, g: diffusion_loss(net, obs_w[idx], act_w[idx], alpha_bar, g), torch.arange(len(obs_w)),
          steps=STEPS, batch_size=BATCH, lr=LR, desc="diffusion")
    split = denoising_split(net, normalizer, alpha_bar, history, num_samples=32, seed=0)
    claims = split.claims()
    print(claims, untrained)
    assert claims["near_start"] == 0 and claims["near_end"] >= 0.9
    assert min(claims["left"], claims["right"]) >= 0.25
    assert untrained["near_end"] < 0.5                                       # the negative control
    titles = figure_texts(split_figure(split))
    assert f"after 10 of 10 steps:<br>{round(claims['near_end'] * 32)}/32 near a mode" in titles


def test_pi0_layer_sizes_in_the_picture_are_the_toy_models():
    from coursekit.assignments.pi0.data import HORIZON, INSTRUCTION_LENGTH
    from coursekit.assignments.pi0.model import ToyPi0
    from coursekit.assignments.pi0.pictures import layer_diagram

    model = ToyPi0(seed=0)
    texts = " ".join(layer_diagram().texts())
    block = model.expert.blocks[0]
    for fact in (f"width {model.vlm.patch_embed.out_features}", f"width {model.expert.dim}",
                 f"all {model.num_prefix + model.num_state + HORIZON} tokens", f"heads of {block.head_dim}",
                 f"{HORIZON} noisy actions", f"{model.vlm.num_tokens - INSTRUCTION_LENGTH} image patches | {INSTRUCTION_LENGTH} words"):
        assert fact in texts, fact

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

"""Several concepts erased at once: each is measured with retained accuracy over the concepts that were not
erased, so that erasing house and square together does not count square's loss against house's retention."""

from erasure.multi_concept import without
from erasure.profiles import load_profile


def test_the_retained_sets_leave_out_every_erased_concept():
    tiny = load_profile("tiny")
    erased = ["house", "square", "triangle"]
    kept = without(tiny, erased)
    assert kept.pipe is tiny.pipe and kept.judge is tiny.judge  # the same model, judged the same way
    alone = {r.label for r in tiny.concepts["house"].retained(tiny.concepts, 1, 0)}
    together = {r.label for r in tiny.concepts["house"].retained(kept.concepts, 1, 0)}
    labels = {name: tiny.concepts[name].judge_label for name in erased}
    assert labels["square"] in alone and labels["triangle"] in alone
    assert together == alone - {labels["square"], labels["triangle"]} and len(together) == len(alone) - 2
    assert [c.name for c in tiny.concepts if c.name not in erased] == [c.name for c in kept.concepts]

import warnings

import numpy as np
import pytest
import torch

from qa_lightning.evaluation import QALogitsCollector, evaluate_logits, postprocess, squad_scores
from tests.evaluation.builders import build, word_spans

CONTEXTS = [
    "w0 w1 w2 alpha beta gamma w6 w7 w8 w9",  # 3 windows
    "short context here",  # 1 window
    "the quick brown fox jumps over the lazy old dog",  # 3 windows
    "one two three four five six seven",  # 2 windows
]
MAX_LEN = 16


def _gold(ctx, first, last):
    spans = word_spans(ctx)
    return [(ctx[spans[first][0] : spans[last][1]], spans[first][0])]


@pytest.fixture()
def setup():
    answers = [_gold(CONTEXTS[0], 3, 4), [], _gold(CONTEXTS[2], 2, 3), _gold(CONTEXTS[3], 5, 6)]
    b = build(CONTEXTS, answers, question_lens=[1, 2, 3, 2])
    rng = np.random.default_rng(0)
    n = len(b.word_at)
    start = rng.normal(0, 1, (n, MAX_LEN)).astype(np.float32)
    end = rng.normal(0, 1, (n, MAX_LEN)).astype(np.float32)
    for f, row in enumerate(b.word_at):  # make most answers right, the rest random
        ex = b.features["example_index"][f]
        for w_s, w_e in {0: [(3, 4)], 2: [(2, 3)], 3: [(5, 6)]}.get(ex, []):
            if w_s in row and w_e in row:
                start[f, row.index(w_s)] = 6.0
                end[f, row.index(w_e)] = 6.0
    return b, start, end


def _collect(collector, order, start, end, batch=3):
    for i in range(0, len(order), batch):
        idx = order[i : i + batch]
        width = MAX_LEN - (i % 3)  # batches of different widths, padded by the collector
        collector.update(
            torch.tensor(idx),
            torch.tensor(start[idx, :width]).half(),
            torch.tensor(end[idx, :width]).half(),
        )
    return collector.compute()


@pytest.mark.parametrize("version_2", [False, True])
def test_duplicated_shuffled_indices_match_ordered_unique(setup, version_2):
    b, start, end = setup
    n = len(b.word_at)
    assert max(len(r) for r in b.word_at) <= MAX_LEN - 2  # the narrowest batch still fits
    start = start.astype(np.float16).astype(np.float32)  # what the collector will keep
    end = end.astype(np.float16).astype(np.float32)
    ordered = _collect(QALogitsCollector(MAX_LEN), list(range(n)), start, end)
    rng = np.random.default_rng(1)
    messy = list(rng.permutation(n)) + list(rng.choice(n, size=5))  # DDP-style repeats
    rng.shuffle(messy)
    collected = _collect(QALogitsCollector(MAX_LEN), messy, start, end)
    assert collected.feature_index.tolist() == list(range(n))
    assert collected.start_logits.dtype == torch.float32
    assert collected.start_logits.shape == (n, MAX_LEN)
    assert torch.equal(collected.start_logits, ordered.start_logits)
    kw = dict(version_2=version_2, n_best_size=20, max_answer_length=30)
    s1, o1 = evaluate_logits(b.examples, b.features, *ordered, **kw)
    s2, o2 = evaluate_logits(b.examples, b.features, *collected, **kw)
    # also feed evaluate_logits the raw duplicated, shuffled arrays directly
    s3, o3 = evaluate_logits(b.examples, b.features, messy, start[messy], end[messy], **kw)
    assert s1 == s2 == s3
    assert o1.predictions == o2.predictions == o3.predictions
    assert o1.null_odds == o2.null_odds == o3.null_odds
    assert s1["total"] == 4
    # identical to postprocessing + scoring the full set directly
    full = postprocess(b.examples, b.features, start, end, version_2=version_2)
    assert full.predictions == o1.predictions
    if version_2:
        ref = squad_scores(
            b.examples,
            full.predictions,
            version_2=True,
            null_odds=full.null_odds,
            na_prob_thresh=0.0,
        )
        assert {"best_exact", "best_f1_thresh", "HasAns_total", "NoAns_total"} <= set(s1)
    else:
        ref = squad_scores(b.examples, full.predictions, version_2=False)
    assert s1 == ref


def test_partially_seen_example_is_not_scored(setup):
    b, start, end = setup
    windows_of_0 = b.features_of(0)
    assert len(windows_of_0) == 3
    seen = [f for f in range(len(b.word_at)) if f != windows_of_0[1]]  # drop one window of q0
    scores, out = evaluate_logits(
        b.examples, b.features, seen, start[seen], end[seen], version_2=True
    )
    assert scores["total"] == 3
    assert "q0" not in out.predictions and set(out.predictions) == {"q1", "q2", "q3"}
    # the remaining examples are scored exactly as on their own
    rest = b.examples.select([1, 2, 3])
    assert scores["exact"] == pytest.approx(
        squad_scores(rest, out.predictions, version_2=True)["exact"]
    )
    assert scores["HasAns_total"] == 2 and scores["NoAns_total"] == 1


def test_nothing_complete_scores_zero(setup):
    b, start, end = setup
    seen = [b.features_of(0)[0]]
    scores, out = evaluate_logits(
        b.examples, b.features, seen, start[seen], end[seen], version_2=False
    )
    assert scores["total"] == 0 and out.predictions == {}


def test_collector_empty_and_reset():
    c = QALogitsCollector(max_length=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchmetrics: "compute before update"
        out = c.compute()
    assert out.feature_index.numel() == 0 and out.start_logits.shape == (0, 8)
    c.update(torch.tensor([2, 0]), torch.ones(2, 5), torch.zeros(2, 5))
    out = c.compute()
    assert out.feature_index.tolist() == [0, 2]
    assert out.start_logits[0, :5].tolist() == [1.0] * 5
    assert out.start_logits[0, 5:].tolist() == [-1e4] * 3  # padded with a large negative
    with pytest.raises(ValueError):
        c.update(torch.tensor([1]), torch.ones(1, 9), torch.ones(1, 9))
    c.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert c.compute().feature_index.numel() == 0


def test_collector_syncs_in_a_process_group(tmp_path):
    """States go through torchmetrics' gather path (a 1-process gloo group) unchanged."""
    import torch.distributed as dist
    from torchmetrics.utilities.distributed import gather_all_tensors

    gathered = []

    def spy(tensor, group=None):
        gathered.append(tuple(tensor.shape))
        return gather_all_tensors(tensor, group)

    if not dist.is_available():
        pytest.skip("torch.distributed unavailable")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        c = QALogitsCollector(max_length=6, dist_sync_fn=spy)
        c.update(torch.tensor([3, 1]), torch.arange(8.0).reshape(2, 4), torch.ones(2, 4))
        c.update(torch.tensor([1, 0]), torch.zeros(2, 6), torch.zeros(2, 6))
        out = c.compute()
        assert gathered == [(4,), (24,), (24,)]  # one pre-concatenated 1-D state each
        assert out.feature_index.tolist() == [0, 1, 3]
        assert out.start_logits.shape == (3, 6)
        assert out.start_logits[1, :4].tolist() == [4.0, 5.0, 6.0, 7.0]  # first occurrence kept
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "compute before update"
            empty = QALogitsCollector(max_length=6).compute()
        assert empty.feature_index.numel() == 0 and empty.start_logits.shape == (0, 6)
    finally:
        dist.destroy_process_group()


def test_collector_puts_pad_value_on_batch_padding():
    """The model's logits on batch padding are arbitrary: with the attention mask they are
    replaced by the pad value, so they never rank among a row's best positions."""
    c = QALogitsCollector(max_length=6)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    c.update(torch.tensor([0, 1]), torch.full((2, 4), 9.0), torch.full((2, 4), 7.0), mask)
    out = c.compute()
    assert out.start_logits[1].tolist() == [9.0, 9.0] + [-1e4] * 4
    assert out.end_logits[0].tolist() == [7.0] * 4 + [-1e4] * 2

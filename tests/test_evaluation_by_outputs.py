"""Evaluation found by what the code does with a model's result (issue 11, family D), whatever
the function is called: a helper called in view whose forward results only become metrics and
outputs is evaluation. Each flagged shape has quiet neighbours that train on the result, act
in an environment, or are the model's own methods. The line marked `# here` is where TRN003
and TRN004 point; no other line may carry a finding."""

from __future__ import annotations

import textwrap

import pytest

from lint_train.engine import lint_source

SCRIPT = """
import torch
from torch import nn
import torch.nn.functional as F

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)

def train(loader):
    for x, y in loader:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

{helper}

train(data)
{after}
"""


def _found(helper: str, after: str) -> dict[int, set[str]]:
    source = SCRIPT.format(helper=textwrap.dedent(helper).strip(), after=textwrap.dedent(after))
    found: dict[int, set[str]] = {}
    for finding in lint_source(source):
        found.setdefault(finding.line, set()).add(finding.code)
    lines = source.splitlines()
    marked = {i + 1 for i, line in enumerate(lines) if line.rstrip().endswith("# here")}
    assert set(found) <= marked, f"findings off the marked line: {found}"
    return found


BOTH = {"TRN003", "TRN004"}

FLAGGED = {
    "predictions_collected_in_a_list": (
        """
        def collect_scores(loader):
            preds = []
            for x, y in loader:
                preds.append(model(x).argmax(dim=1))  # here
            return torch.cat(preds)
        """,
        "scores = collect_scores(data)",
    ),
    "counted_with_item": (
        """
        def get_scores(loader):
            hits = 0
            for x, y in loader:
                hits += (model(x).argmax(1) == y).sum().item()  # here
            return hits
        """,
        "print(get_scores(data))",
    ),
    "an_output_turned_into_numpy_without_a_loop": (
        """
        def stylize(image):
            out = model(image)  # here
            return out.detach().cpu().numpy()
        """,
        "picture = stylize(sample)",
    ),
    "decoded_text": (
        """
        def write_samples(loader, tokenizer):
            texts = []
            for x, y in loader:
                texts.append(tokenizer.decode(model(x)))  # here
            print(texts)
        """,
        "write_samples(data, tok)",
    ),
    # A graph net's `test`: one full-batch forward, then a loss and an accuracy for a report.
    "full_batch_test_of_a_graph_net": (
        """
        def accuracy(output, labels):
            preds = output.max(1)[1].type_as(labels)
            return preds.eq(labels).double().mean()

        def test(features, adj, labels):
            output = model(features, adj)  # here
            loss = F.nll_loss(output, labels)
            acc = accuracy(output, labels)
            print(f"test loss {loss.item():.3f} acc {acc.item():.3f}")
        """,
        "test(features, adj, labels)",
    ),
    # The same single forward, its result only printed: evaluation (its neighbour in QUIET is
    # acted on in an environment).
    "policy_output_only_printed": (
        """
        def choose(obs):
            return model(obs).argmax().item()  # here
        """,
        """
        for t in range(3):
            print(choose(sample))
        """,
    ),
}


@pytest.mark.parametrize("name", sorted(FLAGGED))
def test_evaluation_found_by_what_it_does_with_the_result(name: str) -> None:
    helper, after = FLAGGED[name]
    assert set().union(*_found(helper, after).values()) == BOTH


def test_evaluation_switched_and_without_grad_is_quiet() -> None:
    helper, after = FLAGGED["predictions_collected_in_a_list"]
    fixed = (
        textwrap.dedent(helper)
        .strip()
        .replace("    preds = []", "    model.eval()\n    preds = []")
    )
    fixed = "@torch.no_grad()\n" + fixed
    assert _found(fixed, after) == {}


QUIET = {
    # The raw result leaves the function: the caller may train on it.
    "raw_logits_returned": (
        """
        def logits_of(x):
            return model(x)
        """,
        "out = logits_of(sample)",
    ),
    # Acting in an environment collects data to train on later (a rollout, not evaluation).
    "rollout_that_acts": (
        """
        def play_episode(env):
            obs = env.reset()
            for t in range(100):
                action = model(obs).argmax().item()
                obs, reward, done, info = env.step(action)
        """,
        "play_episode(env)",
    ),
    # A policy's action taken by its caller in an environment: the caller's rollout acts on
    # it (exploration may rely on training mode), so the helper is no evaluation.
    "policy_acted_on_by_its_caller": (
        """
        def choose(obs):
            with torch.no_grad():
                return model(obs).argmax().item()
        """,
        """
        obs = env.reset()
        for t in range(100):
            action = choose(obs)
            obs, reward, done, info = env.step(action)
        """,
    ),
    # Features extracted, then a probe trained on them: the helper feeds a loss in its caller.
    "features_for_a_later_loss": (
        """
        def extract(loader):
            feats = []
            for x, y in loader:
                feats.append(model(x).detach())
            return feats
        """,
        """
        probe = nn.Linear(2, 2)
        probe_opt = torch.optim.SGD(probe.parameters(), lr=0.1)
        feats = extract(data)
        for f, y in zip(feats, labels):
            probe_opt.zero_grad()
            F.cross_entropy(probe(f), y).backward()
            probe_opt.step()
        """,
    ),
    # A teacher's pseudo-labels computed in the training loop and trained on.
    "pseudo_labels_trained_on": (
        """
        def pseudo_labels(x):
            return model(x).argmax(1)
        """,
        """
        student = nn.Linear(4, 2)
        student_opt = torch.optim.SGD(student.parameters(), lr=0.1)
        for x, y in data:
            target = pseudo_labels(x)
            student_opt.zero_grad()
            F.cross_entropy(student(x), target).backward()
            student_opt.step()
        """,
    ),
    # Batch-norm statistics re-estimated: the forward's result is thrown away.
    "statistics_recomputed": (
        """
        def refresh_statistics(loader):
            for x, y in loader:
                model(x)
        """,
        "refresh_statistics(data)",
    ),
    # The result is kept on an object the analysis does not follow.
    "result_stored_on_an_object": (
        """
        def remember(x, box):
            box.last = model(x).softmax(1)
            print(box.last.argmax(1))
        """,
        "remember(sample, box)",
    ),
}


@pytest.mark.parametrize("name", sorted(QUIET))
def test_result_that_may_be_trained_on_is_no_evaluation(name: str) -> None:
    helper, after = QUIET[name]
    assert _found(helper, after) == {}


def test_a_model_s_own_method_is_no_evaluation() -> None:
    helper = """
    class Scorer(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.5))

        def forward(self, x):
            return self.net(x)

        def scores(self, x):
            return self(x).argmax(1).tolist()
    """
    after = """
    scorer = Scorer()
    scorer.scores(sample)
    """
    assert _found(helper, after) == {}


def test_a_function_never_called_is_no_evaluation_by_its_outputs() -> None:
    helper, _ = FLAGGED["predictions_collected_in_a_list"]
    assert _found(helper, "") == {}


def test_a_policy_acted_on_without_no_grad_still_wastes_activations() -> None:
    """The mode of a policy in a rollout is its training's choice; autograd is not."""
    helper = """
    def choose(obs):
        return model(obs).argmax().item()  # here
    """
    after = """
    obs = env.reset()
    for t in range(100):
        action = choose(obs)
        obs, reward, done, info = env.step(action)
    """
    assert set().union(*_found(helper, after).values()) == {"TRN003"}

"""Shapes from scripts built on Hugging Face libraries and from model-zoo code, written inline:
objects that look like models but are not modules (pipelines, tokenizers), helpers that are part
of a module's forward pass, and loops with more ways through them than the analysis keeps apart.
Each quiet shape has a twin, one change away, that must still be flagged."""

from __future__ import annotations

import textwrap

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source))]


VALIDATION = """
    import torch
    from diffusers import {loaded}
    from transformers import AutoTokenizer

    def log_validation(args, device):
        pipeline = {loaded}.from_pretrained(args.model_path)
        pipeline = pipeline.to(device)
        pipeline.enable_model_cpu_offload()
        tokenizer = AutoTokenizer.from_pretrained(args.model_path)
        images = []
        for prompt in args.validation_prompts:
            ids = tokenizer(prompt, return_tensors="pt")
            images.append(pipeline(prompt, num_inference_steps=25).images[0])
        return images
"""


def test_a_pipeline_in_a_validation_loop_is_not_a_model_to_guard() -> None:
    # A diffusers or transformers pipeline disables autograd and sets eval mode itself; a
    # tokenizer is no module at all.
    assert _codes(VALIDATION.format(loaded="StableDiffusionPipeline")) == []
    assert _codes(VALIDATION.format(loaded="AutoPipelineForText2Image")) == []


def test_a_pretrained_module_in_the_same_loop_is_still_flagged() -> None:
    # Loaded with from_pretrained, the module is in eval mode already: only autograd is left on.
    flagged = _codes(VALIDATION.format(loaded="UNet2DConditionModel"))
    assert {code for _, code in flagged} == {"TRN003"}


MODULE = """
    import torch
    from torch import nn

    class Denoiser({base}):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(8, 8)
            self.drop = nn.Dropout(0.1)
            self.out = nn.Linear(8, 8)

        def forward(self, x, use_cache=False):
            if use_cache:
                return self.{helper}(x)
            return self.out(self.drop(self.embed(x)))

        def {helper}(self, x):
            return self.out(self.drop(self.embed(x)))
"""


def test_a_module_helper_named_for_inference_is_part_of_its_forward_pass() -> None:
    assert _codes(MODULE.format(base="nn.Module", helper="_forward_inference")) == []
    assert _codes(MODULE.format(base="ModelMixin", helper="_forward_inference")) == []
    assert _codes(MODULE.format(base="nn.Module", helper="forward_inference")) == []


def test_a_public_predict_method_of_the_same_module_is_still_evaluation_code() -> None:
    source = MODULE.format(base="nn.Module", helper="_forward_inference") + textwrap.indent(
        textwrap.dedent("""
            def predict(self, x):
                return self(x).argmax(-1)

        def main(loader, probe):
            model = Denoiser()
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            model.train()
            for x in loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            return model.predict(probe)
        """),
        "    ",
    )
    found = _codes(source)
    assert ("TRN004" in {code for _, code in found}) and all(line > 18 for line, _ in found)


ALTERNATING = """
    import torch

    def train(loader, gen, disc, opt_g, opt_d, args, log):
        {before}
        for i, batch in enumerate(loader):
            gen_turn = (i // args.accumulate) % 2 == 0
            {clear}
            fake = gen(batch)
            if args.log_a:
                log.a.eval()
            if args.log_b:
                log.b.eval()
            if args.log_c:
                log.c.eval()
            if args.log_d:
                log.d.eval()
            if gen_turn:
                (-disc(fake).mean()).backward()
                opt_g.step()
            else:
                (disc(fake.detach()).mean() - disc(batch).mean()).backward()
                opt_d.step()
"""


def test_a_loop_with_more_ways_through_than_are_kept_apart_is_not_guessed_at() -> None:
    # Sixteen combinations of mode switches are more paths than the analysis keeps apart; merged,
    # it no longer knows that the clear and the step follow the same `gen_turn`. A "maybe" is
    # no finding.
    clear_by_turn = "if gen_turn:\n" + " " * 16 + "opt_g.zero_grad()\n" + " " * 12 + "else:\n"
    clear_by_turn += " " * 16 + "opt_d.zero_grad()"
    assert _codes(ALTERNATING.format(before="pass", clear=clear_by_turn)) == []


def test_the_same_loop_that_never_clears_its_gradients_is_still_flagged() -> None:
    # Paths that differ only in modes are merged first, so the gradients' phases stay exact.
    # Each optimizer's step on uncleared gradients is its own finding.
    source = ALTERNATING.format(before="opt_g.zero_grad()", clear="pass")
    assert _codes(source) == [(20, "TRN001"), (23, "TRN001")]


AGENT = """
    import torch
    from torch import nn

    class Agent(nn.Module):
        def __init__(self, width, activation="tanh"):
            super().__init__()
            if activation not in ("tanh", "relu"):
                raise ValueError("unknown activation")
            act = nn.Tanh() if activation == "tanh" else nn.ReLU()
            self.critic = nn.Sequential(nn.Linear(width, 64), act, {extra}nn.Linear(64, 1))

        def forward(self, obs):
            return self.critic(obs)

        def forward_batched(self, obs):
            return torch.cat([self.critic(o) for o in obs])

        @torch.no_grad()
        def {method}(self, rewards, next_obs):
            next_value = self.critic(next_obs)
            return [r + 0.99 * next_value for r in rewards]

    def collect(rewards, next_obs):
        agent = Agent(8)
        return agent.{method}(rewards, next_obs)
"""


def test_rl_return_estimation_and_forward_variants_are_not_evaluation_code() -> None:
    # `estimate_returns`: part of collecting the rollout; `forward_batched`: a forward variant.
    quiet = AGENT.format(extra="nn.Dropout(0.1), ", method="estimate_returns")
    assert _codes(quiet) == []


def test_estimating_a_loss_is_still_evaluation_code() -> None:
    flagged = AGENT.format(extra="nn.Dropout(0.1), ", method="estimate_loss")
    assert {code for _, code in _codes(flagged)} == {"TRN004"}


DENOISER = """
    import math
    import torch
    from torch import nn
    from .resample import upsample

    class Denoiser(nn.Module):
        def __init__(self, depth):
            super().__init__()
            if depth < 1:
                raise ValueError("depth must be positive")
            self.scale = math.sqrt(depth)
            self.layers = nn.ModuleList([{layer} for _ in range(depth)])

        def forward(self, x):
            for layer in self.layers:
                x = torch.relu(layer(upsample(x)))
            return x / self.scale

    def evaluate(loader):
        net = Denoiser(3)
        net.load_state_dict(torch.load("denoiser.pt"))  # trained weights: a real evaluation
        with torch.no_grad():
            return [net(x) for x in loader]
"""


def test_python_builtins_and_functions_applied_in_forward_make_no_hidden_layer() -> None:
    # ValueError, math.sqrt and an imported function applied in forward() build no layer: the
    # model is mode-free, so the missing eval() changes nothing.
    assert _codes(DENOISER.format(layer="nn.Linear(8, 8)")) == []


def test_the_same_model_with_dropout_is_flagged() -> None:
    layer = "nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.2))"
    assert {code for _, code in _codes(DENOISER.format(layer=layer))} == {"TRN004"}


TRANSFORMERS = """
    import torch
    from transformers import {cls}

    def evaluate(model, loader, texts):
        model.eval()
        helper = {cls}()
        helper.load_state_dict(torch.load("helper.pt"))  # trained: a real evaluation
        scores = []
        with torch.no_grad():
            for batch in loader:
                scores.append(model(**batch).logits)
        return scores, [helper(t) for t in texts]
"""


def test_a_transformers_helper_class_is_not_a_model() -> None:
    assert _codes(TRANSFORMERS.format(cls="BasicTextNormalizer")) == []


def test_a_transformers_model_class_built_in_evaluation_code_is_one() -> None:
    found = _codes(TRANSFORMERS.format(cls="BertForSequenceClassification"))
    assert "TRN004" in {code for _, code in found}  # `helper` is left in training mode


def test_a_deep_copy_of_a_model_is_a_model_part_we_cannot_see() -> None:
    # `copy.deepcopy(model)` may copy dropout layers: an EMA of a model built elsewhere counts
    # as mode-sensitive, so its missing eval() is still reported.
    source = """
        import copy
        import torch
        from torch import nn

        class Ema(nn.Module):
            def __init__(self, model):
                super().__init__()
                self.shadow = copy.deepcopy(model)

            def forward(self, x):
                return self.shadow(x)

        def evaluate(loader, model):
            ema = Ema(model)
            with torch.no_grad():
                return [ema(x) for x in loader]
    """
    assert {code for _, code in _codes(source)} == {"TRN004"}


SEGMENTOR = """
    import torch
    from mmseg.models import BaseSegmentor

    class Segmentor(BaseSegmentor):
        def forward_train(self, img, target):
            return self.head(self.backbone(img), target)

        def slide_inference(self, img, rows, cols):
            preds = img.new_zeros(img.shape)
            for r in range(rows):
                for c in range(cols):
                    preds[..., r, c] = self.backbone(img[..., r, c])
            return preds

        def simple_test(self, img, rows, cols):
            return self.slide_inference(img, rows, cols)
{caller}"""


def test_a_models_own_inference_api_without_a_caller_in_view_is_not_guessed_at() -> None:
    # OpenMMLab-style models: forward_test -> simple_test -> slide_inference, called by a
    # framework under no_grad and eval(); nothing in view says otherwise.
    assert _codes(SEGMENTOR.format(caller="")) == []


def test_the_same_api_called_by_an_evaluation_loop_in_view_is_judged_there() -> None:
    caller = textwrap.indent(
        textwrap.dedent("""
            def evaluate(loader):
                segmentor = Segmentor()
                preds = []
                for img in loader:
                    preds.append(segmentor.simple_test(img, 4, 4))
                return preds
        """),
        "    ",
    )
    assert "TRN003" in {code for _, code in _codes(SEGMENTOR.format(caller=caller))}


KNN = """
    import torch
    from functools import partial
    from torch import nn

    class KnnHead(nn.Module):
        def __init__(self, features, k):
            super().__init__()
            self.features, self.k = features, k
            self.drop = nn.Dropout(0.1)

        def forward(self, x):
            return self.drop(x @ self.features.T).topk(self.k).values

    def make_heads(*, module, ks):
        heads = []
        for k in ks:
            heads.append(module(k=k))
        return heads

    def evaluate_knn(features, loader):
        module = {built}
        heads = make_heads(module=module, ks=[1, 5, 20])
        with torch.no_grad():
            return [[head(x) for head in heads] for x in loader]
"""


def test_calling_a_partial_of_a_class_builds_it_and_runs_no_forward_pass() -> None:
    assert _codes(KNN.format(built="partial(KnnHead, features)")) == []


def test_calling_an_instance_in_the_same_place_is_a_forward_pass() -> None:
    found = {code for _, code in _codes(KNN.format(built="KnnHead(features, 5)"))}
    assert "TRN004" in found


GENERATION = """
    import torch
    {imported}

    def sample_for_validation(policy, loader, tokenizer):
        texts = []
        for batch in loader:
            with unwrap_model_for_generation(policy) as unwrapped:
                texts.append(unwrapped.generate(**batch))
        return texts
"""


def test_a_helper_imported_from_the_package_itself_is_not_a_model() -> None:
    # `from ..models import unwrap_model_for_generation`: a relative import is imported code,
    # not a model whose name happens to hold "model".
    assert (
        _codes(GENERATION.format(imported="from ..models import unwrap_model_for_generation")) == []
    )


def test_the_same_name_defined_nowhere_is_judged_by_its_name() -> None:
    found = _codes(GENERATION.format(imported="")).copy()
    assert {code for _, code in found} == {"TRN003", "TRN004"}


TRAINER = """
    import torch
    from {package} import {base}

    class PreferenceTrainer({base}):
        def evaluate(self, dataset):
            model = self.ref_model or self.model
            scores = []
            with torch.no_grad():
                for batch in self.get_eval_dataloader(dataset):
                    scores.append(model(**batch).logits)
            return scores
"""


def test_evaluation_methods_of_a_library_trainer_subclass_are_the_librarys_to_wrap() -> None:
    assert _codes(TRAINER.format(package=".base_trainer", base="BaseTrainer")) == []
    assert _codes(TRAINER.format(package="transformers", base="Trainer")) == []


def test_the_same_method_on_a_class_of_our_own_is_still_evaluation_code() -> None:
    found = _codes(
        TRAINER.format(package="dataclasses", base="dataclass").replace("(dataclass)", "")
    )
    assert {code for _, code in found} == {"TRN004"}


# Classes picked at run time from a table of (config, model, tokenizer, retriever) classes, as
# Hugging Face wrappers do; `predict` runs the tokenizer and the retriever around an encoder
# that runs under no_grad. Whether each object is a module follows from what the table holds.
PICKED_FROM_TABLE = """
    import torch
    from transformers import (AutoConfig, AutoModel, AutoTokenizer, BertConfig, BertModel,
                              BertTokenizerFast, RagRetriever)

    CLASSES = {{
        "auto": (AutoConfig, AutoModel, AutoTokenizer, RagRetriever),
        "bert": (BertConfig, BertModel, {bert_tokenizer}, RagRetriever),
    }}

    class Wrapper:
        def __init__(self, kind, name):
            config_class, model_class, tokenizer_class, retriever_class = CLASSES[kind]
            self.encoder_tokenizer = tokenizer_class.from_pretrained(name)
            self.retriever = retriever_class.from_pretrained(name)
            self.model = model_class.from_pretrained(name)

        def fit(self, loader):
            opt = torch.optim.AdamW(self.model.parameters())
            self.model.train()
            for batch in loader:
                opt.zero_grad()
                self.model(**batch).loss.backward()
                opt.step()

        def predict(self, texts):
            self.model.eval()
            found = []
            for text in texts:
                ids = self.encoder_tokenizer(text, return_tensors="pt")["input_ids"]
                with torch.no_grad():
                    hidden = self.model(ids)[0]
                found.append(self.retriever(ids.numpy(), hidden.numpy()))
            return found
"""


def test_tokenizers_and_retrievers_picked_from_a_table_are_not_models() -> None:
    assert _codes(PICKED_FROM_TABLE.format(bert_tokenizer="BertTokenizerFast")) == []


def test_a_table_position_that_may_hold_a_model_is_still_a_model() -> None:
    # One row holds a model class where the others hold tokenizers: `encoder_tokenizer` may be
    # a module, run for evaluation with autograd on.
    found = _codes(PICKED_FROM_TABLE.format(bert_tokenizer="BertModel"))
    assert found == [(30, "TRN003")]


# A RAG wrapper: the retriever is an index lookup and the tokenizer a text codec, neither a
# module; only the question encoder's forward pass is evaluation to guard.
RETRIEVER = """
    import torch
    from transformers import RagRetriever, RagTokenizer, RagTokenForGeneration

    class Answerer:
        def __init__(self, name):
            self.retriever = RagRetriever.from_pretrained(name, index_name="exact")
            self.tokenizer = RagTokenizer.from_pretrained(name)
            self.model = RagTokenForGeneration.from_pretrained(name, retriever=self.retriever)

        def fit(self, loader):
            opt = torch.optim.AdamW(self.model.parameters())
            self.model.train()
            for batch in loader:
                opt.zero_grad()
                self.model(**batch).loss.backward()
                opt.step()

        def predict(self, questions):
            {set_mode}
            answers = []
            for question in questions:
                ids = self.tokenizer(question, return_tensors="pt")["input_ids"]
                with torch.{grad}():
                    hidden = self.model.question_encoder(ids)[0]
                docs = self.retriever(ids.numpy(), hidden.numpy(), return_tensors="pt")
                answers.append(self.tokenizer.batch_decode(docs["context_input_ids"]))
            return answers
"""


def test_a_retriever_and_a_tokenizer_are_never_models_to_guard() -> None:
    assert _codes(RETRIEVER.format(set_mode="self.model.eval()", grad="no_grad")) == []


def test_the_encoder_in_the_same_loop_is_still_flagged_and_named() -> None:
    found = lint_source(textwrap.dedent(RETRIEVER.format(set_mode="pass", grad="enable_grad")))
    assert [(f.line, f.code) for f in found] == [(25, "TRN003"), (25, "TRN004")]
    assert all("`self.model.question_encoder`" in f.message for f in found)


# Pruning by Taylor ranks: on the ranking pass, the backward pass exists to feed gradient
# hooks that a helper class (not a module) registers on the activations in its `forward`; no
# optimizer steps on that pass, and that is the point.
RANKING = """
    import torch
    from torch import nn

    class Ranker:
        def __init__(self, model):
            self.model = model
            self.ranks = {{}}

        def rank(self, grad):
            self.ranks[len(self.ranks)] = grad.abs().mean()

        def forward(self, x):
            for layer in self.model:
                x = layer(x)
                {hook}
            return x

    class FineTuner:
        def __init__(self, model):
            self.model = model
            self.ranker = Ranker(model)

        def epoch(self, loader, ranking=False):
            opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
            self.model.train()
            for x, y in loader:
                self.model.zero_grad()
                if ranking:
                    loss = nn.functional.cross_entropy(self.ranker.forward(x), y)
                    loss.backward()
                else:
                    loss = nn.functional.cross_entropy(self.model(x), y)
                    loss.backward()
                    opt.step()
"""


def test_a_backward_that_feeds_gradient_hooks_needs_no_step() -> None:
    assert _codes(RANKING.format(hook="x.register_hook(self.rank)")) == []


def test_the_same_backward_without_hooks_is_still_a_way_that_never_steps() -> None:
    assert _codes(RANKING.format(hook="pass")) == [(31, "TRN002")]


# A Hugging Face model trained by a hand-written loop that never calls train(), evaluated by a
# helper that calls eval(): from the second epoch on it trains in eval mode. This session left
# `from_pretrained`'s own eval mode unmodelled (docs/real-world.md says why); whatever models it
# later must keep this finding.
PRETRAINED_LOOP = """
    import torch
    from transformers import AutoModelForSequenceClassification

    def main(loader, epochs):
        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
        opt = torch.optim.AdamW(model.parameters())
        for epoch in range(epochs):
            for batch in loader:
                opt.zero_grad()
                model(**batch).loss.backward()
                opt.step()
            {after}

    def evaluate(model, loader):
        model.eval()
        with torch.no_grad():
            for batch in loader:
                print(model(**batch).logits.argmax(-1))
"""


def test_a_pretrained_model_left_in_eval_by_an_evaluation_trains_in_eval() -> None:
    assert _codes(PRETRAINED_LOOP.format(after="evaluate(model, loader)")) == [(11, "TRN005")]


def test_the_same_loop_that_sets_train_mode_again_is_quiet() -> None:
    assert _codes(PRETRAINED_LOOP.format(after="evaluate(model, loader); model.train()")) == []

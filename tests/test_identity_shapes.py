"""What each object is, decided by where it comes from (issue 11, families A and B): a model
keeps its identity and mode through moves, inline mode switches, aliases and the Python 2
spelling of `super`; a method defined twice is its later definition. Each shape that must be
flagged has a quiet twin one change away, and the other way round."""

from __future__ import annotations

import textwrap

from lint_train.engine import lint_source


def _codes(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source))]


NET = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            {super_call}.__init__()
            self.fc = nn.Linear(4, 2)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return self.fc(self.drop(x))

    @torch.no_grad()
    def evaluate(model, loader):
        for x, y in loader:
            model(x)  # line 17: TRN004 points at the evaluation forward

"""
EVAL_LINE = 17


def _script(main: str, super_call: str = "super()") -> str:
    return textwrap.dedent(NET).format(super_call=super_call) + textwrap.dedent(main)


TRAIN_THEN_EVALUATE = """
    def main(train_loader, val_loader):
        model = {built}
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        evaluate({evaluated}, val_loader)
"""


def _train_then_evaluate(built: str, evaluated: str = "model", super_call: str = "super()"):
    main = TRAIN_THEN_EVALUATE.format(built=built, evaluated=evaluated)
    return _codes(_script(main, super_call))


def test_python2_super_spelling_keeps_the_model_in_training_mode() -> None:
    assert _train_then_evaluate("Net()", super_call="super(Net, self)") == [(EVAL_LINE, "TRN004")]
    assert _train_then_evaluate("Net()", super_call="super()") == [(EVAL_LINE, "TRN004")]


def test_a_model_moved_where_it_is_built_keeps_its_training_mode() -> None:
    assert _train_then_evaluate('Net().to("cpu")') == [(EVAL_LINE, "TRN004")]
    assert _train_then_evaluate("Net().cpu().float()") == [(EVAL_LINE, "TRN004")]


def test_a_model_put_in_eval_mode_where_it_is_passed_is_evaluated_in_eval_mode() -> None:
    assert _train_then_evaluate("Net()", evaluated="model.eval()") == []
    assert _train_then_evaluate("Net()", evaluated='model.eval().to("cpu")') == []
    assert _train_then_evaluate("Net()", evaluated="model.train(False)") == []
    assert _train_then_evaluate("Net()", evaluated="model.train()") == [(EVAL_LINE, "TRN004")]


INFERENCE = """
    def main(val_loader):
        model = {built}
        evaluate(model, val_loader)
"""


def test_a_model_built_in_eval_mode_is_evaluated_in_eval_mode() -> None:
    assert _codes(_script(INFERENCE.format(built="Net().eval()"))) == []
    assert _codes(_script(INFERENCE.format(built='Net().to("cpu").eval()'))) == []
    assert _codes(_script(INFERENCE.format(built="Net().train(False)"))) == []
    assert _codes(_script(INFERENCE.format(built="Net()"))) == [(EVAL_LINE, "TRN004")]
    assert _codes(_script(INFERENCE.format(built="Net().eval().train()"))) == [
        (EVAL_LINE, "TRN004")
    ]


def test_a_mode_set_from_a_flag_is_unknown() -> None:
    main = """
        def main(val_loader, flag):
            model = Net()
            model.train(mode=flag)
            evaluate(model, val_loader)
    """
    assert _codes(_script(main)) == []


LOOP = """
    def main(train_loader):
        model = Net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        clear = opt.zero_grad
        {before}
        for x, y in train_loader:  # line 25
            {inside}
            model(x).sum().backward()
            opt.step()
"""


def _loop(before: str, inside: str) -> list[tuple[int, str]]:
    found = _codes(_script(LOOP.format(before=before, inside=inside)))
    return [f for f in found if f[1] == "TRN001"]  # `evaluate` is not called here


def test_a_bound_method_kept_aside_is_the_method() -> None:
    assert _loop(before="pass", inside="clear()") == []
    assert _loop(before="clear()", inside="pass") == [(28, "TRN001")]


ALIAS = """
    def main(train_loader, val_loader):
        model = Net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(3):
            model.train()
            for x, y in train_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            {switch}
            evaluate({evaluated}, val_loader)
"""


def test_an_alias_is_the_same_model() -> None:
    def codes(switch: str, evaluated: str = "model") -> list[tuple[int, str]]:
        return _codes(_script(ALIAS.format(switch=switch, evaluated=evaluated)))

    assert codes("m = model; m.eval()") == []
    assert codes("m = model; model.eval()", evaluated="m") == []
    assert codes("m = model", evaluated="m") == [(EVAL_LINE, "TRN004")]


TRAINER = """
    class Trainer:
        def __init__(self):
            self.model = Net()
            self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)

        def fit(self, train_loader, val_loader):
            model = self.model
            for epoch in range(3):
                model.train()
                for x, y in train_loader:
                    self.opt.zero_grad()
                    model(x).sum().backward()
                    self.opt.step()
                {switch}
                evaluate(model, val_loader)
"""


def test_a_local_name_for_an_attribute_is_the_same_model() -> None:
    assert _codes(_script(TRAINER.format(switch="self.model.eval()"))) == []
    assert _codes(_script(TRAINER.format(switch="pass"))) == [(EVAL_LINE, "TRN004")]


def test_a_name_bound_twice_is_no_alias() -> None:
    main = """
        def main(train_loader, val_loader, other):
            model = Net()
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            model.train()
            for x, y in train_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            m = model
            m = other
            m.eval()
            evaluate(model, val_loader)
    """
    assert _codes(_script(main)) == [(EVAL_LINE, "TRN004")]


TRAINER_HEAD = """
class Trainer:
    def __init__(self):
        self.model = Net()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
"""
STUB = """
    def fit(self, train_loader, val_loader):
        pass
"""
REAL = """
    def fit(self, train_loader, val_loader):
        self.model.train()
        for x, y in train_loader:
            self.opt.zero_grad()
            self.model(x).sum().backward()
            self.opt.step()
        evaluate(self.model, val_loader)
"""
FIT = """
Trainer().fit(train_loader, val_loader)
"""


def test_a_method_defined_twice_is_its_later_definition() -> None:
    assert _codes(_script(TRAINER_HEAD + STUB + REAL + FIT)) == [(EVAL_LINE, "TRN004")]
    fixed = REAL.replace("evaluate(", "self.model.eval()\n        evaluate(")
    assert _codes(_script(TRAINER_HEAD + fixed + FIT)) == []
    assert _codes(_script(TRAINER_HEAD + REAL + fixed + FIT)) == []
    assert _codes(_script(TRAINER_HEAD + fixed + REAL + FIT)) == [(EVAL_LINE, "TRN004")]


SELF_MODULE = """
    import sys

    def main(train_loader, val_loader):
        model = Net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        {switch}
        this = sys.modules[__name__]
        this.evaluate(model, val_loader)
"""


def test_a_module_that_aliases_itself_calls_its_own_functions() -> None:
    assert _codes(_script(SELF_MODULE.format(switch="pass"))) == [(EVAL_LINE, "TRN004")]
    assert _codes(_script(SELF_MODULE.format(switch="model.eval()"))) == []


# Training then evaluation at module level: TRN004 on line 13 while `{evaluated}` is in
# training mode there. `{wrap}` passes the model (and optimizer) through a library wrapper.
WRAPPED = """
    import torch
    {imports}
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    {wrap}
    for x in data:
        opt.zero_grad()
        {trained}(x).sum().backward()
        opt.step()
    {switch}
    with torch.no_grad():
        for x in val_data:
            {evaluated}(x)
"""
WRAPPED_FOUND = [(14, "TRN004")]  # the evaluation forward


def _wrapped(
    imports: str,
    wrap: str,
    switch: str = "pass",
    trained: str = "model",
    evaluated: str = "model",
) -> str:
    return WRAPPED.format(
        imports=imports, wrap=wrap, switch=switch, trained=trained, evaluated=evaluated
    )


def test_a_wrapped_model_is_the_model() -> None:
    ddp = "from torch.nn.parallel import DistributedDataParallel as DDP"
    assert _codes(_wrapped(ddp, "net = DDP(model)", trained="net")) == WRAPPED_FOUND
    assert _codes(_wrapped(ddp, "net = DDP(model)", switch="net.eval()")) == []
    assert _codes(_wrapped(ddp, "net = DDP(model)", switch="model.eval()", evaluated="net")) == []
    assert _codes(_wrapped("", "net = model.cuda()", switch="net.eval()")) == []


def test_prepared_objects_keep_their_state() -> None:
    prepare = "model, opt, data = accelerator.prepare(model, opt, data)"
    assert _codes(_wrapped("", prepare)) == WRAPPED_FOUND
    assert _codes(_wrapped("", prepare, switch="model.eval()")) == []
    setup = "net, opt = fabric.setup(model, opt)"
    assert _codes(_wrapped("", setup, trained="net", evaluated="net")) == WRAPPED_FOUND


# A TensorFlow and a torch version of one script side by side: the Keras model's evaluation is
# no torch evaluation, the torch model's is (TRN003 and TRN004 on line 31).
SIDE_BY_SIDE = """
    import tensorflow as tf
    import torch
    from torch import nn


    def build_keras():
        return tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.Dropout(0.2)])


    class KerasNet(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.drop = tf.keras.layers.Dropout(0.3)

        def call(self, x, training=False):
            return self.drop(x, training=training)


    def evaluate_tf(model, dataset):
        for x, y in dataset:
            print(tf.argmax(model(x, training=False), -1))


    def run_tf(train_ds, val_ds):
        model = {keras}
        evaluate_tf(model, val_ds)


    def evaluate_torch(model, loader):
        for x, y in loader:
            print(model(x).argmax(-1))


    def run_torch(train_loader, val_loader):
        model = nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        evaluate_torch(model, val_loader)
"""


def test_another_frameworks_model_is_never_a_torch_model() -> None:
    torch_found = [(32, "TRN003"), (32, "TRN004")]  # the torch forward
    for keras in ("build_keras()", "KerasNet()", "tf.keras.applications.ResNet50()"):
        assert sorted(_codes(SIDE_BY_SIDE.format(keras=keras))) == torch_found
    # The same helper given a torch model is torch evaluation.
    torch_model = "nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.1))"
    assert sorted(_codes(SIDE_BY_SIDE.format(keras=torch_model))) == [
        (22, "TRN003"),
        (22, "TRN004"),
        *torch_found,
    ]


ESTIMATOR = """
    import torch
    {imports}

    def probe(features, labels, val_loader):
        model = {built}
        model.fit(features, labels)
        for x, y in val_loader:
            print(model(x))
"""


def test_an_estimator_or_flax_module_is_not_a_torch_model() -> None:
    sklearn = "from sklearn.neural_network import MLPClassifier"
    assert _codes(ESTIMATOR.format(imports=sklearn, built="MLPClassifier()")) == []
    flax = "import flax.linen as fnn\n    class Head(fnn.Module):\n        pass"
    assert _codes(ESTIMATOR.format(imports=flax, built="Head()")) == []
    torch_built = "torch.nn.Sequential(torch.nn.Dropout(0.1))"
    assert _codes(ESTIMATOR.format(imports="", built=torch_built)) == [(9, "TRN003"), (9, "TRN004")]


# A model trained, then evaluated under no_grad: TRN004 on line 12 when its mode matters.
MODE_CASE = """
    import torch
    import timm
    model = {built}
    {switch}
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in data:
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    with torch.no_grad():
        for x in val_data:
            model(x)
"""
MODE_FOUND = [(13, "TRN004")]  # the evaluation forward


def _mode_case(built: str, switch: str = "pass") -> str:
    return MODE_CASE.format(built=built, switch=switch)


def test_mode_sensitivity_is_judged_by_what_the_model_is_built_from() -> None:
    assert (
        _codes(_mode_case("torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))"))
        == MODE_FOUND
    )
    for free in (
        "torch.nn.Dropout(p=0.0)",
        "torch.nn.Dropout(0)",
        "torch.nn.InstanceNorm1d(4)",
        "torch.nn.TransformerEncoderLayer(4, 2, dropout=0)",
        "torch.nn.MultiheadAttention(4, 2)",
    ):
        assert _codes(_mode_case(f"torch.nn.Sequential(torch.nn.Linear(2, 2), {free})")) == []
    # Not in view: a model chosen from a subscripted factory, or loaded.
    trained = "model.train()"
    assert _codes(_mode_case("models.__dict__[arch]()", switch=trained)) == MODE_FOUND
    assert _codes(_mode_case("getattr(models, arch)()", switch=trained)) == MODE_FOUND
    assert _codes(_mode_case("torch.load(path)", switch="model.train()")) == MODE_FOUND


WRAPPER_CLASS = """
    import torch
    from torch import nn

    class Wrapper(nn.Module):
        def __init__(self, backbone, head):
            super().__init__()
            self.backbone = backbone
            self.head = head

        def forward(self, x):
            return self.head(self.backbone(x))

    def main(data, val_data, backbone):
        head = nn.Linear(2, 2)
        model = Wrapper({backbone}, head)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in data:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        with torch.no_grad():
            for x in val_data:
                model(x)
"""


def test_submodules_passed_to_a_wrapper_decide_its_mode_sensitivity() -> None:
    # `backbone` is a parameter: not in view, so counted as mode-sensitive.
    assert _codes(WRAPPER_CLASS.format(backbone="backbone")) == [(24, "TRN004")]
    # Built in view from mode-free parts: the wrapper is mode-free.
    assert _codes(WRAPPER_CLASS.format(backbone="nn.Linear(2, 2)")) == []


def test_the_same_bare_name_elsewhere_does_not_decide() -> None:
    source = """
        import torch
        from torch import nn

        def unit_check():
            model = nn.Linear(2, 2)
            return model(torch.ones(1, 2))

        def main(data, val_data):
            model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.2))
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x in data:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            with torch.no_grad():
                for x in val_data:
                    model(x)
    """
    assert _codes(source) == [(18, "TRN004")]


# Pre-0.4 evaluation: TRN003 on line 13 unless its inputs are volatile (autograd off).
PRE04 = """
    import torch
    from torch.autograd import Variable
    from torchtext import data
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in train_data:
        opt.zero_grad()
        model(Variable(x)).sum().backward()
        opt.step()
    model.eval()
    {built}
    for x in {loader}:
        x = {wrapped}
        print(model(x).argmax(1))
"""
PRE04_FOUND = [(15, "TRN003")]  # the evaluation forward


def _pre04(wrapped: str, built: str = "pass", loader: str = "val_data") -> str:
    return PRE04.format(wrapped=wrapped, built=built, loader=loader)


def test_pre_0_4_volatile_inputs_count_as_no_grad() -> None:
    assert _codes(_pre04("Variable(x, volatile=True)")) == []
    assert _codes(_pre04("x.cuda(volatile=True)")) == []
    assert _codes(_pre04("Variable(x)")) == PRE04_FOUND
    assert _codes(_pre04("Variable(x, volatile=False)")) == PRE04_FOUND
    function = """
        import torch
        from torch.autograd import Variable

        def evaluate(model, loader):
            model.eval()
            for x in loader:
                print(model(Variable(x, volatile={flag})).argmax(1))
    """
    assert _codes(function.format(flag="True")) == []
    assert _codes(function.format(flag="False")) == [(8, "TRN003")]


def test_a_torchtext_iterator_built_not_to_train_counts_as_no_grad() -> None:
    built = "val_iter = data.BucketIterator(val, batch_size=32, train={flag})"
    assert _codes(_pre04("x", built.format(flag="False"), "val_iter")) == []
    assert _codes(_pre04("x", built.format(flag="True"), "val_iter")) == PRE04_FOUND


CALLBACK = """
    import torch
    import pytorch_lightning as pl

    def show(model, samples):
        for x in samples:
            print(model(x).argmax(-1))

    class ShowPredictions({base}):
        def __init__(self, val_samples):
            self.val_samples = val_samples

        def {hook}(self, trainer, pl_module):
            for x in self.val_samples:
                print(pl_module(x).argmax(-1))
            show(pl_module, self.val_samples)
"""


def test_lightning_hooks_run_in_eval_mode_without_autograd() -> None:
    for hook in ("on_validation_epoch_end", "on_test_batch_end", "validation_step"):
        assert _codes(CALLBACK.format(base="pl.Callback", hook=hook)) == []
    # The same methods in a class Lightning does not call are evaluation code of the file.
    assert sorted(_codes(CALLBACK.format(base="object", hook="on_validation_epoch_end"))) == [
        (7, "TRN003"),
        (7, "TRN004"),
        (15, "TRN003"),
        (15, "TRN004"),
    ]


# Each entry of the knowledge table added for identity through wrappers, with a snippet whose
# verdict is the stated one with the entry and a different one without it (run by
# tests/test_knowledge.py).
IDENTITY_CASES: dict[str, tuple[str, list[tuple[int, str]]]] = {
    **{
        f"{package}.*": (
            SIDE_BY_SIDE.format(keras="tf.keras.Sequential()").replace("tf.", f"{package}."),
            [(32, "TRN003"), (32, "TRN004")],
        )
        for package in (
            "tensorflow",
            "keras",
            "tf_keras",
            "jax",
            "flax",
            "haiku",
            "sklearn",
            "xgboost",
            "lightgbm",
            "catboost",
        )
    },
    **{
        f"torch.nn.{layer}": (_mode_case(f"torch.nn.Sequential(torch.nn.{layer}(0.5))"), MODE_FOUND)
        for layer in (
            "Dropout",
            "Dropout1d",
            "Dropout2d",
            "Dropout3d",
            "AlphaDropout",
            "FeatureAlphaDropout",
        )
    },
    **{
        f"torch.nn.{layer}": (_mode_case(f"torch.nn.{layer}(4)"), MODE_FOUND)
        for layer in (
            "BatchNorm1d",
            "BatchNorm2d",
            "BatchNorm3d",
            "LazyBatchNorm1d",
            "LazyBatchNorm2d",
            "LazyBatchNorm3d",
            "SyncBatchNorm",
        )
    },
    **{
        f"torch.nn.{layer}": (
            _mode_case(f"torch.nn.{layer}(4, track_running_stats=True)"),
            MODE_FOUND,
        )
        for layer in (
            "InstanceNorm1d",
            "InstanceNorm2d",
            "InstanceNorm3d",
            "LazyInstanceNorm1d",
            "LazyInstanceNorm2d",
            "LazyInstanceNorm3d",
        )
    },
    "torch.nn.RReLU": (_mode_case("torch.nn.RReLU()"), MODE_FOUND),
    **{
        f"torch.nn.{layer}": (_mode_case(f"torch.nn.{layer}(4, 2)"), MODE_FOUND)
        for layer in ("Transformer", "TransformerEncoderLayer", "TransformerDecoderLayer")
    },
    "timm.create_model": (_mode_case('timm.create_model("resnet18")'), MODE_FOUND),
    **{
        name: (_mode_case(f"{name}(path)", switch="model.train()"), MODE_FOUND)
        for name in ("torch.load", "torch.jit.load", "torch.hub.load")
    },
    "torch.autograd.Variable": (
        _pre04("Variable(x, volatile=True)").replace(
            "Variable(x, volatile=True)", "Variable(x, False, True)"
        ),
        [],
    ),
    **{
        f"{package}.{iterator}": (
            _pre04(
                "x",
                f"import {package}\n    val_iter = {package}.{iterator}(val, 32, train=False)",
                "val_iter",
            ),
            [],
        )
        for package in ("torchtext.data", "torchtext.legacy.data")
        for iterator in ("Iterator", "BucketIterator", "BPTTIterator")
    },
    **{
        f"<lightning>.{hook}": (
            CALLBACK.format(base="pl.Callback", hook=hook.replace("*", "epoch_end")),
            [],
        )
        for hook in (
            "validation_step",
            "test_step",
            "predict_step",
            "on_validation_*",
            "on_test_*",
            "on_predict_*",
        )
    },
    "super": (
        "import torch\nmodel = torch.nn.Linear(2, 1)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\nopt.zero_grad()\n"
        "for x in data:\n    super(Net, opt)\n    model(x).sum().backward()\n    opt.step()\n",
        [(8, "TRN001")],
    ),
    **{
        name: (
            _wrapped(f"import {name.rpartition('.')[0]}", f"net = {name}(model)", "net.eval()"),
            [],
        )
        for name in (
            "torch.nn.DataParallel",
            "torch.nn.parallel.DataParallel",
            "torch.nn.parallel.DistributedDataParallel",
        )
    },
    "torch.compile": (_wrapped("", "net = torch.compile(model)", "net.eval()"), []),
    "apex.amp.initialize": (
        _wrapped("from apex import amp", "model, opt = amp.initialize(model, opt)"),
        WRAPPED_FOUND,
    ),
    "accelerate.Accelerator": (
        _wrapped(
            "from accelerate import Accelerator",
            "acc = Accelerator(); model, opt = acc.prepare(model, opt)",
        ),
        WRAPPED_FOUND,
    ),
    "<accelerator>.prepare": (
        _wrapped("", "model, opt = accelerator.prepare(model, opt)"),
        WRAPPED_FOUND,
    ),
    "<accelerator>.unwrap_model": (
        _wrapped("", "net = accelerator.unwrap_model(model)", evaluated="net"),
        WRAPPED_FOUND,
    ),
    **{
        name: (
            _wrapped(
                f"import {name.rpartition('.')[0]}",
                f"f = {name}(); model, opt = f.setup(model, opt)",
            ),
            WRAPPED_FOUND,
        )
        for name in ("lightning.Fabric", "lightning.fabric.Fabric", "lightning_fabric.Fabric")
    },
    "<fabric>.setup": (_wrapped("", "model, opt = fabric.setup(model, opt)"), WRAPPED_FOUND),
    "<fabric>.setup_module": (_wrapped("", "model = fabric.setup_module(model)"), WRAPPED_FOUND),
    # Handed to unseen code inside the loop, the optimizer could be stepped there.
    "<fabric>.setup_optimizers": (
        "import torch\nmodel = torch.nn.Linear(2, 1)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for x in data:\n    opt.zero_grad()\n    opt = fabric.setup_optimizers(opt)\n"
        "    model(x).sum().backward()\n",
        [(7, "TRN002")],
    ),
    **{
        f"<any>.{m}": (
            _wrapped(
                "",
                f"model, opt, data = engine.{m}(module=model, optimizer=opt, data_loader=data)",
            ),
            WRAPPED_FOUND,
        )
        for m in ("make_private", "make_private_with_epsilon")
    },
}


RECALIBRATE = """
    import torch

    def recalibrate_on_val(model, val_loader):
        {switch}
        with torch.no_grad():
            for x in val_loader:
                model(x)
"""


def test_batch_norm_recalibration_is_not_evaluation() -> None:
    assert _codes(RECALIBRATE.format(switch="model.train()")) == []
    assert _codes(RECALIBRATE.format(switch="model.train(True)")) == []
    assert _codes(RECALIBRATE.format(switch="pass")) == [(8, "TRN004")]


GRADIENT_CHECK = """
    import torch
    from torch import nn

    def check_accumulation():
        model = nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            {inside}
            model(torch.ones(2, 4)).sum().backward()
        {after}
"""


def test_a_gradient_check_is_not_a_training_loop() -> None:
    def codes(inside: str = "pass", after: str = "pass") -> list[tuple[int, str]]:
        return _codes(GRADIENT_CHECK.format(inside=inside, after=after))

    assert codes(after="assert torch.allclose(model.weight.grad, torch.full((1, 4), 6.0))") == []
    assert codes() == [(10, "TRN002")]
    # A loop that clears each time around trains: reading the gradients after it changes nothing.
    assert codes(inside="opt.zero_grad()", after="print(model.weight.grad)") == [(10, "TRN002")]

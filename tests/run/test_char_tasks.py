"""The character tasks: the "hello" LM and truncated BPTT over text streams, one-to-many captioning and
seq2seq date translation: data, training mechanics, decoding, prediction and the messages for bad input."""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from helpers import DATA_DIR, QUIET, REPO_ROOT, compose_config

from rnnlab.data.alphabet import END, END_ID, START, Alphabet, teacher_forcing
from rnnlab.data.batches import IGNORE
from rnnlab.data.char_text import CharTextDataModule, StreamWindows, batchify
from rnnlab.data.dates import FORMATS, DateTranslationDataModule, days
from rnnlab.errors import ConfigError, DataError
from rnnlab.lit import LanguageModel, TrainingSetup
from rnnlab.lit.data import LightningData
from rnnlab.lit.metrics import GenerationMetrics
from rnnlab.models import RecurrentBackbone
from rnnlab.models.generators import CharRNN, SymbolEncoder
from rnnlab.run.build import build_module
from rnnlab.run.config import validate
from rnnlab.run.datamodule import build_datamodule
from rnnlab.run.evaluate import evaluate
from rnnlab.run.predict import predict
from rnnlab.run.train import train
from rnnlab.run.trainer import make_trainer

TINY_CAPTIONS = ["task.data.sizes.train=256", "task.data.sizes.val=64", "task.data.sizes.test=64"]
QUIET_TRAINER = {
    "logger": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "enable_checkpointing": False,
}
SHAKESPEARE = DATA_DIR / "tinyshakespeare" / "input.txt"


# --- data: alphabets and streams ----------------------------------------------------------------------------
def test_alphabet_round_trip_and_unknown_characters_are_located():
    alphabet = Alphabet.of(["hello"])
    assert alphabet.symbols == ["e", "h", "l", "o"]
    assert alphabet.decode(alphabet.encode("hello").tolist()) == "hello"
    with pytest.raises(DataError, match=r"notes.txt:2: character 'x' is not in the model's alphabet"):
        Alphabet.of(["hello\n"]).encode("hello\nhex", "notes.txt")
    markers = Alphabet.of(["one"], markers=True)
    assert markers.symbols[:2] == [START, END]
    assert markers.decode([markers.id("o"), markers.id("n"), END_ID, markers.id("e")]) == "on"


def test_batchify_lays_the_text_out_as_contiguous_streams_with_next_character_targets():
    ids = torch.arange(23)
    inputs, targets = batchify(ids, 4)
    assert inputs.shape == targets.shape == (4, 5)
    assert inputs[1].tolist() == [5, 6, 7, 8, 9]
    assert torch.equal(targets, inputs + 1)
    windows = StreamWindows(inputs, targets, window=2)
    assert len(windows) == 3
    assert torch.equal(torch.cat([windows[j]["input"] for j in range(3)], dim=1), inputs)
    assert windows[2]["input"].shape == (4, 1)


def test_file_splits_are_contiguous_and_cover_the_text(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("abcdefghij" * 10, encoding="utf-8")
    data = CharTextDataModule(path=str(path), fractions=[0.8, 0.1, 0.1], batch_size=2, eval_batch_size=2)
    parts = [data.split_ids(name) for name in ("train", "val", "test")]
    assert [len(p) for p in parts] == [80, 10, 10]
    assert data.vocab.decode(torch.cat(parts).tolist()) == path.read_text()


def test_hello_is_one_stream_read_whole_by_every_split():
    data = CharTextDataModule(text="hello", batch_size=32, fractions=[0.8, 0.1, 0.1])
    batches = [next(iter(loader)) for loader in (data.train_dataloader(), data.val_dataloader())]
    for batch in batches:
        assert data.vocab.decode(batch["input"][0].tolist()) == "hell"
        assert data.vocab.decode(batch["target"][0].tolist()) == "ello"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "text file {path} does not exist"),
        (b"", "text file {path} is empty"),
        (b"abc\x00def", "{path}:1: holds a NUL byte"),
        (b"caf\xe9\n", "{path}:1: is not UTF-8"),
        (b"abcdefghij", "{path}: the train split holds 9 characters, too few for 32 streams"),
    ],
    ids=["missing", "empty", "binary", "latin-1", "shorter than a batch"],
)
def test_bad_text_files_stop_with_a_message_naming_the_file(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message.format(path=path).replace(".", r"\.").replace("(", r"\(")):
        CharTextDataModule(path=str(path), batch_size=32).setup("fit")


# --- truncated BPTT ---------------------------------------------------------------------------------------
def tiny_lm(bptt: int, lr: float = 0.0, clip: float | None = None, cell: str = "rnn") -> LanguageModel:
    torch.manual_seed(0)
    symbols = SymbolEncoder(5, "onehot")
    net = CharRNN(symbols, RecurrentBackbone(5, 8, cell=cell))
    setup = TrainingSetup(
        functools.partial(torch.optim.SGD, lr=lr), gradient_clip_val=clip, vocab={"symbols": list("abcde")}
    )
    return LanguageModel(net, setup, bptt=bptt)


@pytest.fixture
def stream_data(tmp_path):
    """stream_data(length, streams, window): a text of `streams` streams of `length` characters over "abcde",
    which every split reads whole."""

    def make(length: int, streams: int = 2, window: int | None = None) -> CharTextDataModule:
        path = tmp_path / f"text_{length}_{streams}.txt"
        path.write_text("".join("abcde"[(i * 7 + i // 3) % 5] for i in range(length * streams + 1)))
        return CharTextDataModule(
            path=str(path), fractions=None, batch_size=streams, eval_batch_size=streams, window=window or length
        )

    return make


@pytest.mark.parametrize(("length", "bptt"), [(10, 3), (9, 3), (10, 10), (4, 100)])
def test_a_sequence_of_length_t_makes_ceil_t_over_k_optimizer_steps(stream_data, length, bptt):
    trainer = L.Trainer(max_epochs=1, limit_val_batches=0, **QUIET_TRAINER)
    trainer.fit(tiny_lm(bptt, lr=0.1), datamodule=LightningData(stream_data(length)))
    assert trainer.global_step == math.ceil(length / bptt)


def record_steps(module: LanguageModel) -> list[dict[str, torch.Tensor]]:
    """The gradients each optimizer step applied (after clipping, which happens inside the step's closure),
    recorded as the step ends."""
    steps: list[dict[str, torch.Tensor]] = []
    configure = module.configure_optimizers

    def configure_and_hook():
        optimizer = configure()
        optimizer.register_step_post_hook(
            lambda *_: steps.append({n: p.grad.clone() for n, p in module.net.named_parameters()})
        )
        return optimizer

    module.configure_optimizers = configure_and_hook
    return steps


def test_no_gradient_crosses_a_chunk_boundary(stream_data):
    module, data = tiny_lm(bptt=4), stream_data(12)
    steps = record_steps(module)  # lr = 0: the weights stay as they are, so chunks can be replayed below
    L.Trainer(max_epochs=1, limit_val_batches=0, **QUIET_TRAINER).fit(module, datamodule=LightningData(data))
    assert len(steps) == 3
    inputs, targets = batchify(data.split_ids("train"), 2)
    chunks = list(zip(inputs.split(4, 1), targets.split(4, 1), strict=True))
    net, params = module.net, list(module.net.parameters())

    def grads(loss):
        return dict(zip([n for n, _ in net.named_parameters()], torch.autograd.grad(loss, params), strict=True))

    with torch.no_grad():
        _, state = net(chunks[0][0])
    logits, _ = net(chunks[1][0], state)  # the second chunk starts from a constant state
    truncated = grads(F.cross_entropy(logits.reshape(-1, 5), chunks[1][1].reshape(-1)))
    _, attached = net(chunks[0][0])
    logits, _ = net(chunks[1][0], attached)  # the same loss with the graph through the first chunk kept
    full = grads(F.cross_entropy(logits.reshape(-1, 5), chunks[1][1].reshape(-1)))
    for name, grad in steps[1].items():
        torch.testing.assert_close(grad, truncated[name])
    assert not torch.allclose(steps[1]["backbone.rnn.weight_hh_l0"], full["backbone.rnn.weight_hh_l0"])


class StateRecorder(LanguageModel):
    """Records the state every chunk starts from."""

    def chunk_loss(self, ids, target, state):
        self.seen = [*getattr(self, "seen", []), (self.trainer.state.stage, state)]
        return super().chunk_loss(ids, target, state)


def test_the_state_is_carried_across_batches_and_reset_each_epoch(stream_data):
    module, data = tiny_lm(bptt=3), stream_data(6, window=3)
    recorder = StateRecorder(module.net, module.training_setup, bptt=3)
    L.Trainer(max_epochs=2, limit_val_batches=0, **QUIET_TRAINER).fit(recorder, datamodule=LightningData(data))
    starts = [state for stage, state in recorder.seen if stage == "train"]
    assert len(starts) == 4  # 2 epochs x 2 batches of one chunk
    assert starts[0] is None and starts[2] is None
    inputs, _ = batchify(data.split_ids("train"), 2)
    with torch.no_grad():
        _, expected = recorder.net(inputs[:, :3])
    torch.testing.assert_close(starts[1], expected)


def test_evaluation_carries_the_state_so_windows_score_like_one_pass(stream_data):
    module, data = tiny_lm(bptt=3), stream_data(20, window=7)
    (metrics,) = L.Trainer(**QUIET_TRAINER).validate(module, datamodule=LightningData(data), verbose=False)
    inputs, targets = batchify(data.split_ids("val"), 2)
    with torch.no_grad():
        logits, _ = module.net(inputs)
    expected = F.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1))
    assert metrics["val/loss"] == pytest.approx(float(expected), rel=1e-5)
    assert metrics["val/bpc"] == pytest.approx(float(expected) / math.log(2), rel=1e-5)
    assert metrics["val/ppl"] == pytest.approx(math.exp(float(expected)), rel=1e-5)


def test_truncated_bptt_clips_gradients_from_the_trainer_setting(make_cfg, stream_data):
    module = tiny_lm(bptt=5, lr=1.0, clip=0.01)
    steps = record_steps(module)
    L.Trainer(max_epochs=1, limit_val_batches=0, **QUIET_TRAINER).fit(module, datamodule=LightningData(stream_data(10)))
    norms = [torch.linalg.vector_norm(torch.stack([g.norm() for g in step.values()])) for step in steps]
    assert len(norms) == 2 and all(n <= 0.01 + 1e-6 for n in norms)
    cfg = make_cfg("char_lm", "rnn", "trainer.gradient_clip_val=0.25")
    module = build_module(cfg, build_datamodule(cfg).vocab)
    assert module.training_setup.gradient_clip_val == 0.25 and make_trainer(cfg).gradient_clip_val is None


# --- the "hello" language model -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hello_run(tmp_path_factory) -> Path:
    output_dir = tmp_path_factory.mktemp("hello")
    overrides = ["task=char_lm", "model=rnn", *QUIET]
    cfg = compose_config("train", overrides, output_dir)
    metrics, _ = train(cfg)
    assert metrics["test/acc"] == 1.0
    return output_dir


def predict_cfg(task: str, checkpoint: Path, *overrides: str):
    return compose_config("predict", [f"task={task}", f"ckpt_path={checkpoint}", *overrides])


def test_hello_is_learnt_and_predict_greedily_generates_it(hello_run):
    assert predict(predict_cfg("char_lm", hello_run / "checkpoints" / "last.ckpt", "prime=h")) == "hello"
    assert (hello_run / "samples_val.md").read_text().count("hello") == 1


def test_the_hidden_state_tells_l_then_l_from_l_then_o(hello_run):
    checkpoint = torch.load(hello_run / "checkpoints" / "last.ckpt", weights_only=True)
    alphabet = Alphabet.from_dict(checkpoint["hyper_parameters"]["vocab"])
    net = build_module(compose_config("train", ["task=char_lm"]), alphabet).net
    net.load_state_dict({k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items()})
    logits, _ = net(alphabet.encode("hell").unsqueeze(0))
    after_first_l, after_second_l = (alphabet.symbols[i] for i in logits[0, 2:].argmax(-1).tolist())
    assert (after_first_l, after_second_l) == ("l", "o")  # the same input 'l', two different next characters


def test_eval_scores_the_validation_split_on_request(hello_run, tmp_path):
    overrides = ["task=char_lm", "model=rnn", f"ckpt_path={hello_run / 'checkpoints' / 'last.ckpt'}", "split=val"]
    metrics, _ = evaluate(compose_config("eval", [*overrides, "trainer.accelerator=cpu"], tmp_path))
    assert set(metrics) == {"val/loss", "val/bpc", "val/ppl", "val/acc"}
    assert metrics["val/acc"] == 1.0


@pytest.mark.parametrize(("experiment", "cell"), [("shakespeare_rnn", "rnn"), ("shakespeare_lstm", "lstm")])
def test_shakespeare_experiments_read_the_corpus_for_ten_minutes(experiment, cell):
    cfg = compose_config("train", [f"experiment={experiment}", f"paths.data_dir={DATA_DIR}"])
    validate(cfg)
    assert (cfg.task.name, cfg.model.cell, cfg.model.bidirectional) == ("char_lm", cell, False)
    assert cfg.task.data.path == str(SHAKESPEARE) and cfg.trainer.max_time == "00:00:10:00"


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (["prime=h", "temperature=0"], ConfigError, "temperature=0 must be > 0"),
        (["prime=h", "temperature=-1.5"], ConfigError, "temperature=-1.5 must be > 0"),
        (["prime=hex"], DataError, "prime:1: character 'x' is not in the model's alphabet 'ehlo'"),
        (["prime=''"], DataError, "prime is empty"),
        (["prime=h", "length=0"], ConfigError, "length=0 must be a positive number"),
    ],
)
def test_predict_refuses_bad_sampling_requests(hello_run, overrides, error, message):
    with pytest.raises(error, match=message):
        predict(predict_cfg("char_lm", hello_run / "checkpoints" / "last.ckpt", *overrides))


def test_predict_cli_samples_with_a_temperature(hello_run):
    command = [sys.executable, "scripts/predict.py", "task=char_lm", f"ckpt_path={hello_run}/checkpoints/last.ckpt"]
    run = functools.partial(subprocess.run, cwd=REPO_ROOT, capture_output=True, text=True)
    result = run([*command, "prime=he", "length=3", "temperature=0.5"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("he") and len(result.stdout.strip()) == 5
    result = run([*command, "temperature=0"])
    assert result.returncode == 2 and "temperature=0 must be > 0" in result.stderr


@pytest.mark.parametrize("task", ["char_lm", "caption"])
@pytest.mark.parametrize("model", ["birnn", "deep_birnn", "bilstm"])
def test_a_bidirectional_lm_or_decoder_is_refused_before_training(make_cfg, task, model):
    with pytest.raises(ConfigError, match=f"task {task} is causal .* but the model is bidirectional"):
        validate(make_cfg(task, model))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("task.input_encoding=binary", "task.input_encoding='binary' is not one of onehot, embedding"),
        ("task.input_encoding=embedding", "task.input_encoding=embedding needs task.embedding_dim"),
        ("task.bptt=0", "task.bptt=0 must be a positive integer"),
        ("task.sample.temperature=0", "task.sample.temperature=0 must be > 0"),
    ],
)
def test_bad_language_model_settings_are_refused(make_cfg, override, message):
    with pytest.raises(ConfigError, match=message):
        validate(make_cfg("char_lm", "rnn", override))


# --- decoding ---------------------------------------------------------------------------------------------
def test_generation_stops_at_end_and_exact_match_needs_the_end_too():
    alphabet = Alphabet.of(["one", "seven"], markers=True)
    _, target = teacher_forcing(alphabet, ["seven", "one"])
    assert target[1].tolist()[-2:] == [IGNORE, IGNORE]
    right = target.clamp(min=END_ID)  # what generate() writes for a perfect model: END after END
    wrong = right.clone()
    wrong[0, 5] = alphabet.id("n")  # "sevenn…": every character right, the END missing
    metrics = GenerationMetrics()
    metrics.update(torch.tensor(0.0), F.one_hot(target.clamp(min=0), len(alphabet)).float(), target, right)
    metrics.update(torch.tensor(0.0), F.one_hot(target.clamp(min=0), len(alphabet)).float(), target, wrong)
    values = metrics.compute()
    assert float(values["exact"]) == pytest.approx(0.75)
    assert float(values["gen_char_acc"]) == pytest.approx(19 / 20)


def test_char_rnn_generate_feeds_back_its_choices_and_pads_with_end():
    torch.manual_seed(0)
    net = CharRNN(SymbolEncoder(6, "embedding", 4), RecurrentBackbone(4, 16))
    generated = net.generate(torch.zeros(3, 1, dtype=torch.long), steps=12, end=END_ID)
    logits, state = net(torch.zeros(3, 1, dtype=torch.long))
    done = torch.zeros(3, dtype=torch.bool)
    for t in range(12):  # greedy: the argmax given everything generated so far; END once END was written
        assert torch.equal(generated[:, t], logits[:, -1].argmax(-1).masked_fill(done, END_ID))
        done |= generated[:, t] == END_ID
        logits, state = net(generated[:, t : t + 1], state)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        net.generate(torch.zeros(1, 1, dtype=torch.long), steps=2, temperature=0.0)


# --- translation data -------------------------------------------------------------------------------------
def test_date_splits_are_disjoint_by_day_and_reproducible():
    data = DateTranslationDataModule(sizes={"train": 500, "val": 100, "test": 100})
    split_days = data.split_days()
    assert sum(len(d) for d in split_days.values()) == len(days(1950, 2049))
    assert not set(split_days["train"]) & set(split_days["test"])
    test_isos = {iso for _, iso in data.pairs("test")}
    assert not test_isos & {iso for _, iso in data.pairs("train")}
    assert data.pairs("val") == DateTranslationDataModule(sizes={"train": 1, "val": 100, "test": 1}).pairs("val")


def test_every_date_format_reads_one_way_only():
    sample = days(1950, 2049)[::7]
    written = {}
    for day in sample:
        for style in FORMATS:
            text = style(day)
            assert written.setdefault(text, day) == day, f"{text!r} stands for two dates"


# --- captioning and translation end to end ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("task", "model", "overrides"),
    [
        ("caption", "rnn", ["trainer.max_epochs=2", *TINY_CAPTIONS]),
        ("caption", "lstm", ["trainer.max_epochs=1", *TINY_CAPTIONS]),
        ("caption", "rnn", ["trainer.max_epochs=1", "task.data.min_digits=1", "task.data.max_digits=1"]),
        ("translate", "birnn", ["trainer.max_epochs=1", "task.data.sizes.train=256", "task.data.sizes.val=64"]),
        ("translate", "gru", ["trainer.max_epochs=1", "task.data.sizes.train=256", "task.data.sizes.val=64"]),
    ],
)
def test_generators_train_write_samples_and_predict(make_cfg, task, model, overrides):
    cfg = make_cfg(task, model, *overrides, "task.data.sizes.test=64" if task == "translate" else "seed=1")
    metrics, _ = train(cfg)
    assert {"val/exact", "val/gen_char_acc", "test/exact", "test/gen_char_acc", "test/loss"} <= set(metrics)
    assert ("test/word_acc" in metrics) == (task == "caption")
    output_dir = Path(cfg.paths.output_dir)
    assert json.loads((output_dir / "metrics.json").read_text())["test/exact"] == metrics["test/exact"]
    samples = (output_dir / "samples_test.md").read_text()
    assert samples.count("→") == 8
    checkpoint = output_dir / "checkpoints" / "last.ckpt"
    if task == "caption":
        assert (output_dir / "samples_test.png").stat().st_size > 0
        out = predict(predict_cfg("caption", checkpoint, "index=3"))
        assert len(out.splitlines()) == 9  # 8 rows of pixels, then the caption
    else:
        out = predict(predict_cfg("translate", checkpoint, "text='3 Mar 1998'"))
        assert set(out) <= set("0123456789-")
        with pytest.raises(DataError, match=r"text:1: character '\?' is not in the model's alphabet"):
            predict(predict_cfg("translate", checkpoint, "text='3 mar 1998?'"))


@pytest.mark.parametrize("max_digits", [1, 3, 4])
def test_the_image_encoder_reads_canvases_as_wide_as_the_most_digits(make_cfg, max_digits):
    cfg = make_cfg("caption", "rnn", f"task.data.max_digits={max_digits}", "task.data.min_digits=1", *TINY_CAPTIONS)
    validate(cfg)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule.vocab)
    assert cfg.task.encoder.in_features == 64 * max_digits
    batch = next(iter(datamodule.val_dataloader()))
    assert batch["source"].shape[1:] == (8, 8 * max_digits)
    logits = module(batch["source"], batch["decoder_input"])
    assert logits.shape == (*batch["target"].shape, len(datamodule.vocab.target))
    assert module.generate(batch["source"], steps=5).shape == (len(batch["source"]), 5)


@pytest.mark.slow
@pytest.mark.heavy  # ~100 s
def test_captions_of_held_out_digit_combinations_are_composed_word_by_word(make_cfg):
    # The first 10 of the pre-registered run's epochs (docs/tasks.md, Results: characters: 83.0 % exact, 93.9 % of
    # words after 26): the decoder writes captions it never saw in training.
    metrics, _ = train(make_cfg("caption", "rnn", "trainer.max_epochs=10"))
    assert metrics["test/exact"] >= 0.75 and metrics["test/word_acc"] >= 0.9


@pytest.mark.slow
@pytest.mark.heavy  # ~50 s
def test_captions_of_held_out_single_digits_are_at_least_95_percent_exact(make_cfg):
    metrics, _ = train(make_cfg("caption", "rnn", "task.data.min_digits=1", "task.data.max_digits=1"))
    assert metrics["test/exact"] >= 0.95


@pytest.mark.slow
@pytest.mark.heavy  # ~160 s: the whole recipe
def test_a_birnn_translates_at_least_99_percent_of_test_dates(make_cfg):
    metrics, _ = train(make_cfg("translate", "birnn"))
    assert metrics["test/exact"] >= 0.99


@pytest.mark.slow
def test_a_tiny_shakespeare_lstm_learns_spelling_in_a_minute(make_cfg):
    assert SHAKESPEARE.is_file(), f"{SHAKESPEARE} is missing: set RNNLAB_DATA_DIR (see ../shared/data/SOURCES.md)"
    cfg = make_cfg(
        "char_lm",
        "lstm",
        "experiment=shakespeare_lstm",
        "model.hidden_size=128",
        "trainer.max_time=00:00:01:00",
        f"paths.data_dir={DATA_DIR}",
    )
    metrics, _ = train(cfg)
    # A unigram model scores about 3.3 nats/char on this text; one minute of an LSTM gets well below it.
    assert metrics["val/loss"] < 2.2 and metrics["test/loss"] < 2.3
    assert "ROMEO:" in (Path(cfg.paths.output_dir) / "samples_val.md").read_text()

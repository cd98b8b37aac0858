"""How the generator family decodes (lit/generator.py): the decodings a user names, the settings refused with one
line, and attention only where an encoder reads a sequence."""

from __future__ import annotations

import pytest
import torch
from helpers import compose_config
from omegaconf import OmegaConf

from rnnlab.errors import ConfigError
from rnnlab.lit.generator import Decoding, check_attention, request_decoding
from rnnlab.run.config import validate


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "viterbi"}, "decode='viterbi' is not one of greedy, sample, beam"),
        ({"method": "beam", "beam_size": 0}, "beam_size=0 must be a positive integer"),
        ({"method": "beam", "beam_size": -2}, "beam_size=-2 must be a positive integer"),
        ({"method": "beam", "beam_size": 2.5}, "beam_size=2.5 must be a positive integer"),
        ({"method": "beam", "length_penalty": -1.0}, "length_penalty=-1.0 must be >= 0"),
        ({"method": "sample", "temperature": 0.0}, "temperature=0.0 must be > 0"),
    ],
)
def test_a_decoding_that_cannot_work_is_refused(settings, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        Decoding(**settings)


def test_each_decoding_asks_generate_for_its_own_options():
    assert Decoding().options(torch.device("cpu")) == {}
    assert Decoding("beam", beam_size=3, length_penalty=0.5).options(torch.device("cpu")) == {
        "beam_size": 3,
        "length_penalty": 0.5,
    }
    sample = Decoding("sample", temperature=0.7, seed=3).options(torch.device("cpu"))
    assert sample["temperature"] == 0.7
    assert torch.equal(
        torch.rand(4, generator=sample["generator"]), torch.rand(4, generator=torch.Generator().manual_seed(3))
    )
    assert str(Decoding("beam", beam_size=4, length_penalty=0.75)) == "beam (beam_size=4, length_penalty=0.75)"


@pytest.mark.parametrize(
    ("request_settings", "expected"),
    [
        ({}, Decoding("greedy")),  # as before decodings had names
        ({"temperature": 0.5}, Decoding("sample", temperature=0.5)),
        ({"temperature": 0.5, "greedy": True}, Decoding("greedy")),
        ({"decode": "beam", "beam_size": 3, "length_penalty": 0.0}, Decoding("beam", beam_size=3, length_penalty=0.0)),
        ({"decode": "sample", "seed": 7}, Decoding("sample", temperature=1.0, seed=7)),
    ],
)
def test_a_prediction_request_names_its_decoding(request_settings, expected):
    config = {"task": {"name": "translate"}}
    assert request_decoding(OmegaConf.create(request_settings), config) == expected


def test_a_prediction_request_with_a_bad_beam_is_refused():
    with pytest.raises(ConfigError, match="beam_size=0 must be a positive integer"):
        request_decoding(OmegaConf.create({"decode": "beam", "beam_size": 0}), {"task": {}})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["task=translate", "task.decoder.attention=cosine"], "task.decoder.attention='cosine' is not one of none"),
        (["task=char_lm", "+task.decoder.attention=dot"], "task char_lm has none"),
        (["task=caption", "+task.decoder.attention=additive"], "task caption has none"),
    ],
)
def test_attention_is_refused_where_no_encoder_reads_a_sequence(overrides, message):
    cfg = compose_config("train", overrides)
    with pytest.raises(ConfigError, match=message):
        validate(cfg)


@pytest.mark.parametrize("attention", ["none", "additive", "dot"])
def test_translation_takes_every_attention(attention):
    cfg = compose_config("train", ["task=translate", f"task.decoder.attention={attention}"])
    validate(cfg)
    check_attention(cfg.task)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["task=translate", "decode=beam", "beam_size=0"], "beam_size=0 must be a positive integer"),
        (["task=translate", "decode=[greedy,nucleus]"], "decode='nucleus' is not one of greedy, sample, beam"),
        (["task=translate", "decode=beam", "length_penalty=-0.5"], "length_penalty=-0.5 must be >= 0"),
        (["task=flip_stream", "decode=beam"], "applies to the tasks that write outputs"),
    ],
)
def test_eval_decoding_settings_are_checked_before_anything_loads(overrides, message):
    cfg = compose_config("eval", [*overrides, "ckpt_path=missing.ckpt"])
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        validate(cfg)

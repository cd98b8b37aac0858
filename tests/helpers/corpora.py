"""Small corpora the word-task tests write: a toy treebank (POS) and toy polarity files (sentiment), and the
overrides that train on them quickly."""

from __future__ import annotations

import random
from pathlib import Path

from helpers import QUIET, compose_config

LEXICON = {
    "DET": ["the", "a", "every"],
    "ADJ": ["big", "small", "green", "quick"],
    "NOUN": ["dog", "cat", "park", "walk", "idea"],
    "VERB": ["sees", "likes", "walk", "chases"],
    "PROPN": ["Anna", "Boris", "Delhi"],
}


def tagged_sentence(rng: random.Random) -> list[tuple[str, str]]:
    def noun_phrase():
        if rng.random() < 0.3:
            return [(rng.choice(LEXICON["PROPN"]), "PROPN")]
        words = [(rng.choice(LEXICON["DET"]), "DET")]
        words += [(rng.choice(LEXICON["ADJ"]), "ADJ") for _ in range(rng.randint(0, 2))]
        return [*words, (rng.choice(LEXICON["NOUN"]), "NOUN")]

    return [*noun_phrase(), (rng.choice(LEXICON["VERB"]), "VERB"), *noun_phrase(), (".", "PUNCT")]


def write_conllu(path: Path, sentences: list[list[tuple[str, str]]]) -> Path:
    blocks = []
    for n, sentence in enumerate(sentences, start=1):
        lines = [f"# sent_id = {n}", f"# text = {' '.join(w for w, _ in sentence)}"]
        lines += [f"{i}\t{w}\t{w.lower()}\t{t}\t_\t_\t0\tdep\t_\t_" for i, (w, t) in enumerate(sentence, start=1)]
        blocks.append("\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return path


def write_treebank(folder: Path) -> Path:
    """train/dev/test files of a toy grammar in which "walk" is a NOUN or a VERB by position."""
    rng = random.Random(0)
    for name, size in (("train", 300), ("dev", 60), ("test", 60)):
        write_conllu(folder / f"toy-{name}.conllu", [tagged_sentence(rng) for _ in range(size)])
    return folder


def pos_overrides(folder: Path) -> list[str]:
    return [
        f"task.corpus_dir={folder}",
        "task.data.train_file=${task.corpus_dir}/toy-train.conllu",
        "task.data.dev_file=${task.corpus_dir}/toy-dev.conllu",
        "task.data.test_file=${task.corpus_dir}/toy-test.conllu",
        "task.encoder.word_dim=16",
        "task.encoder.char_dim=8",
        "task.encoder.char_hidden=8",
        "model.hidden_size=24",
        "model.num_layers=1",
        "model.dropout=0",
        "optimizer.lr=0.01",
        "trainer.max_epochs=6",
        "~trainer.max_time",
        # A 500-step average would still be mostly the initial weights after these few dozen steps.
        "~callbacks.weight_averaging",
    ]


def write_polarity(folder: Path) -> Path:
    """One file per label; the label shows in the choice of adjective, anywhere in the sentence."""
    rng = random.Random(1)
    fillers = ["the", "film", "is", "a", "story", "with", "some", "actors", "and", "music"]
    for label, adjectives in (("pos", ["wonderful", "moving", "great"]), ("neg", ["dull", "awful", "tedious"])):
        lines = []
        for _ in range(150):
            words = rng.sample(fillers, rng.randint(3, 8))
            words.insert(rng.randint(0, len(words)), rng.choice(adjectives))
            lines.append(" ".join(words) + " .")
        (folder / f"rt-polarity.{label}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def sentiment_overrides(folder: Path) -> list[str]:
    return [
        f"task.corpus_dir={folder}",
        "task.encoder.word_dim=16",
        "task.encoder.char_hidden=8",
        "task.encoder.dropout=0",
        "model.hidden_size=16",
        "model.output_dropout=0",
        "optimizer.lr=0.01",
        "trainer.max_epochs=15",
        "~trainer.max_time",
        "~callbacks.weight_averaging",
    ]


def word_cfg(task: str, model: str, overrides: list[str], output_dir: Path, config_name: str = "train"):
    quiet = QUIET if config_name == "train" else ["trainer.accelerator=cpu"]
    return compose_config(config_name, [f"task={task}", f"model={model}", *quiet, *overrides], output_dir)


# A small treebank in Spanish and Hindi, as UD writes them. "Dámelo" and "del" are multiword tokens (ID ranges): the
# tagger reads their syntactic words "Da me lo" and "de el". 5.1 is an empty node (the elided "come" of an enhanced
# graph): it is no word of the sentence. Hindi's Devanagari has no letter case.
MULTILINGUAL = """\
# sent_id = es-1
# text = Dámelo del mercado.
1-3\tDámelo\t_\t_\t_\t_\t_\t_\t_\t_
1\tDa\tdar\tVERB\tvmm02s0\tMood=Imp\t0\troot\t0:root\t_
2\tme\tyo\tPRON\tpp1cs000\tCase=Dat\t1\tiobj\t1:iobj\t_
3\tlo\tél\tPRON\tpp3msa00\tCase=Acc\t1\tobj\t1:obj\t_
4-5\tdel\t_\t_\t_\t_\t_\t_\t_\t_
4\tde\tde\tADP\tsps00\t_\t6\tcase\t6:case\t_
5\tel\tel\tDET\tda0ms0\tDefinite=Def\t6\tdet\t6:det\t_
6\tmercado\tmercado\tNOUN\tncms000\tNumber=Sing\t1\tobl\t1:obl\tSpaceAfter=No
7\t.\t.\tPUNCT\tfp\t_\t1\tpunct\t1:punct\t_

# sent_id = es-2
# text = Ana come manzanas y Boris peras.
1\tAna\tAna\tPROPN\tnp00000\t_\t2\tnsubj\t2:nsubj\t_
2\tcome\tcomer\tVERB\tvmip3s0\tMood=Ind\t0\troot\t0:root\t_
3\tmanzanas\tmanzana\tNOUN\tncfp000\tNumber=Plur\t2\tobj\t2:obj\t_
4\ty\ty\tCCONJ\tcc\t_\t6\tcc\t5.1:cc\t_
5\tBoris\tBoris\tPROPN\tnp00000\t_\t6\tnsubj\t5.1:nsubj\t_
5.1\tcome\tcomer\tVERB\tvmip3s0\tMood=Ind\t_\t_\t2:conj\tCopyOf=2
6\tperas\tpera\tNOUN\tncfp000\tNumber=Plur\t2\tconj\t5.1:obj\tSpaceAfter=No
7\t.\t.\tPUNCT\tfp\t_\t2\tpunct\t2:punct\t_

# sent_id = hi-1
# text = मैं हिंदी बोलता हूँ ।
1\tमैं\tमैं\tPRON\tPRP\t_\t3\tnsubj\t3:nsubj\t_
2\tहिंदी\tहिंदी\tPROPN\tNNP\t_\t3\tobj\t3:obj\t_
3\tबोलता\tबोल\tVERB\tVM\t_\t0\troot\t0:root\t_
4\tहूँ\tहै\tAUX\tVAUX\t_\t3\taux\t3:aux\t_
5\t।\t।\tPUNCT\tSYM\t_\t3\tpunct\t3:punct\t_
"""


# A tiny truncated-BPTT language model over a 2,000-character text (write TEXT to a file, pass task.data.path):
# 4 streams, 23 windows of 20 characters, 4 chunks (optimizer steps) each but the last, 90 steps per epoch,
# validated twice per epoch, with dropout (the random state matters) — the resume tests' hardest case.
TEXT = "the cat sat on the mat. a rat ran at the cat, and the cat ran after the rat!\n" * 26
TINY_CHAR_LM = [
    "task=char_lm",
    "model=lstm",
    "model.hidden_size=16",
    "model.output_dropout=0.3",
    "task.data.batch_size=4",
    "task.data.eval_batch_size=4",
    "task.data.window=20",
    "task.bptt=5",
    "task.stopping_threshold=null",
    "trainer.max_epochs=3",
    "trainer.val_check_interval=0.5",
]

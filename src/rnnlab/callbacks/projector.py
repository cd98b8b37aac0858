"""TensorBoard's Projector tab: the input embeddings a run learnt, labelled, at the end of training.

The character LM's characters (its embedding, or the one-hot input weights) and a word model's most frequent words
(POS tagging, sentiment) go to ``SummaryWriter.add_embedding`` of each TensorBoard logger, which writes the vectors,
the labels and ``projector_config.pbtxt`` into the run's TensorBoard directory. Other networks have no table to show.
Off unless ``enabled``: the ``experiment=`` recipes turn it on (see conf/callbacks/default.yaml).
"""

from __future__ import annotations

import lightning as L

from rnnlab.analysis.embeddings import EmbeddingTable, character_table, word_table
from rnnlab.callbacks.writers import tensorboard_writers
from rnnlab.models.generators import CharRNN, SymbolEncoder
from rnnlab.models.word_encoder import WordEncoder


def embedding_tables(net, vocab: dict | None, max_words: int) -> list[EmbeddingTable]:
    """The tables of ``net`` with labels from its vocabulary (the module's plain-dict ``hparams.vocab``)."""
    if not vocab:
        return []
    if isinstance(net, CharRNN) and isinstance(net.encoder, SymbolEncoder) and "symbols" in vocab:
        return [character_table(net.encoder, net.backbone, list(vocab["symbols"]))]
    if isinstance(getattr(net, "encoder", None), WordEncoder) and "words" in vocab:
        return [word_table(net.encoder, list(vocab["words"]), list(vocab["word_counts"]), max_words)]
    return []


class EmbeddingProjector(L.Callback):
    def __init__(self, enabled: bool = False, max_words: int = 1000) -> None:
        """``max_words``: how many of the most frequent training words a word model shows."""
        self.enabled, self.max_words = enabled, max_words

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        writers = tensorboard_writers(trainer)
        if not self.enabled or not writers:
            return
        tables = embedding_tables(pl_module.net, pl_module.hparams.get("vocab"), self.max_words)
        for writer in writers:
            for table in tables:
                writer.add_embedding(
                    table.vectors, metadata=table.labels, tag=table.tag, global_step=trainer.global_step
                )
            writer.flush()

"""How often raw-text tokenisation reproduces a treebank's own words, from the ``# text`` line of each sentence:
python scripts/tokenizer_agreement.py path/to/en_ewt-ud-dev.conllu --tokenizer english"""

import argparse

from rnnlab.data.raw_text import TOKENIZERS, agreement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("conllu", help="a CoNLL-U file whose sentences have # text = lines")
    parser.add_argument("--tokenizer", choices=TOKENIZERS, default="english")
    args = parser.parse_args()
    result = agreement(args.conllu, args.tokenizer)
    print(
        f"{args.tokenizer}: {result['sentences']} sentences, {result['exact']:.1%} split exactly as the treebank; "
        f"words precision {result['precision']:.3f}, recall {result['recall']:.3f}, F1 {result['f1']:.3f}"
    )


if __name__ == "__main__":
    main()

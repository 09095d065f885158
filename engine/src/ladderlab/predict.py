"""A model's predictions over a split, in the form the metrics read: class indices or scores, with the references.

Classifiers and regressors (every family, and T5 with ``t5_format: label_words``) predict from one forward's
logits. T5 in the paper's text-to-text format generates its answer greedily and the text is parsed back
(``data/text2text.py``): a string that is no label becomes ``UNKNOWN``, which the metrics count as wrong.
"""

from __future__ import annotations

from . import stop
from .data.text2text import TextFormat
from .data.types import TaskSpec
from .families.seq2seq import generate_ids
from .methods.base import MethodModel


def predict_split(
    model: MethodModel, batches, spec: TaskSpec, text_format: TextFormat | None, autocast
) -> tuple[list, list]:
    """(predictions, references) over ``batches``, the model in eval mode; the caller holds no_grad."""
    model.eval()
    # transformers' generate() decodes when the method's output is its model's own; a method with a forward of its
    # own (LST) is decoded through that forward, step by step
    own_forward = type(model).forward is not MethodModel.forward
    preds, refs = [], []
    for batch in batches:
        stop.check()  # an evaluation is abandoned on stop; the training state is saved as it was
        with autocast():
            if text_format is None:
                logits = model(batch).float()
                preds.extend((logits if spec.is_regression else logits.argmax(-1)).tolist())
            else:
                ids = generate_ids(model, batch, text_format.max_new_tokens, text_format.eos_id, own_forward)
                preds.extend(text_format.parse(text_format.decode(row)) for row in ids.tolist())
        refs.extend(batch["labels" if text_format is None else "reference"].tolist())
    return preds, refs

"""A user's own loss under test: the wrapper from the PyTorch forum thread quoted in
the project's seed blog post (``../shared/seeds/``), turning one-hot targets into
class indices before calling ``nn.CrossEntropyLoss``.

Run it against every case it can express::

    conformance run --cases cases/cross_entropy \\
        --adapter examples.user_loss.seed_losses:cross_entropy_one_hot \\
        --as 'cross_entropy[logits,probs]'

The suite catches its bug: ``target.max(dim=0)`` takes the maximum over the
*batch* axis, not the class axis. With N samples of C classes it raises when
N != C, and returns the loss of the wrong labels when N == C; the explanation
says what it measurably did ("turns the one-hot target into class indices along
axis 0"). ``cross_entropy_one_hot_fixed`` is the corrected wrapper.
"""

from torch import nn


def cross_entropy_one_hot(input, target):
    _, labels = target.max(dim=0)
    return nn.CrossEntropyLoss()(input, labels)


def cross_entropy_one_hot_fixed(input, target):
    labels = target.argmax(dim=1)
    return nn.CrossEntropyLoss()(input, labels)



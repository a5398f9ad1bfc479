"""
Title: Bidirectional LSTM on IMDB
Author: [fchollet](https://twitter.com/fchollet)
Date created: 2020/05/03
Last modified: 2020/05/03
Description: Train a 2-layer bidirectional LSTM on the IMDB movie review sentiment classification dataset.

keras-io's examples/nlp/bidirectional_lstm_imdb.py, run on tinygrad_relu. Changed: the imports (the two
`keras` lines below), and the data: `keras.datasets.imdb.load_data` downloads the reviews, so this copy
makes IMDB-like ones offline instead (`load_data` below: reviews as word indices, start mark 1, words from
index 4 on as in Keras' IMDB, the sentiment carried by a few words among many neutral ones). The model,
the padding, compile and fit are keras-io's own lines.
Set TINYGRAD_RELU_EXAMPLE_SMALL=1 for a quick run (fewer, shorter reviews).
"""
"""
## Setup
"""

import os

import numpy as np
import tinygrad_relu as keras  # was: from tensorflow import keras
from tinygrad_relu import layers  # was: from tensorflow.keras import layers

SMALL = os.environ.get("TINYGRAD_RELU_EXAMPLE_SMALL") == "1"
max_features = 20000  # Only consider the top 20k words
maxlen = 40 if SMALL else 200  # Only consider the first 200 words of each movie review


def load_data(num_words, n_train=1000 if SMALL else 25000, n_val=500 if SMALL else 25000, seed=0):
    """IMDB-like reviews made offline: a positive review draws a few words from a 'positive' set, a negative one
    from a 'negative' set, the rest from neutral words; lengths vary as IMDB's do."""
    rng = np.random.default_rng(seed)
    positive, negative = np.arange(4, 204), np.arange(204, 404)

    def reviews(n):
        labels = rng.integers(0, 2, n)
        data = []
        for label in labels:
            length = int(np.clip(rng.lognormal(5.2, 0.6), 10, 1000))
            words = rng.integers(404, num_words, length)
            marked = rng.random(length) < 0.08
            words[marked] = rng.choice(positive if label else negative, marked.sum())
            data.append([1] + words.tolist())
        return data, labels
    return reviews(n_train), reviews(n_val)


"""
## Build the model
"""

# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 128-dimensional vector
x = layers.Embedding(max_features, 128)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(64))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

"""
## Load the IMDB movie review sentiment data
"""

(x_train, y_train), (x_val, y_val) = load_data(  # was: keras.datasets.imdb.load_data(
    num_words=max_features
)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than 200 words and zero-pad sequences shorter than 200 words.
x_train = keras.preprocessing.sequence.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.preprocessing.sequence.pad_sequences(x_val, maxlen=maxlen)

"""
## Train and evaluate the model
"""

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=2, validation_data=(x_val, y_val))

"""Reference embeddings of all-MiniLM-L6-v2, computed without candle or torch.

A plain numpy BERT (float64) over the same model.safetensors, tokenised by
the Hugging Face `tokenizers` library from tokenizer.json (the tokenizer
sentence-transformers itself uses), with sentence-transformers' steps for
this model: strip the text, truncate to 256 tokens, BERT, mean pooling under
the attention mask, L2 normalisation. It writes reference.json beside this
file, which tests/reference.rs compares chorus-embed's vectors with.

    python3 -m venv ~/.cache/chorus/venv-embed-ref
    ~/.cache/chorus/venv-embed-ref/bin/pip install numpy safetensors tokenizers
    ~/.cache/chorus/venv-embed-ref/bin/python bert_numpy.py models/all-MiniLM-L6-v2

(numpy 2.4.6, safetensors 0.8.0, tokenizers 0.23.3 made the file in the
repository.)
"""

import hashlib
import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_TOKENS = 256

TEXTS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome for kids.",
    "How do I temper chocolate for bonbons?",
    "  Crème brûlée at the CAFÉ, naïve Ünïcode — and   odd\tspacing.  \n",
    # Longer than 256 tokens: the tail is cut.
    " ".join(f"Sentence number {n} talks about routing questions to specialists." for n in range(40)),
]


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


_erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def linear(x, w, prefix):
    return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]


def bert(ids, w, config):
    heads = config["num_attention_heads"]
    eps = config["layer_norm_eps"]
    length = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][:length]
    x = x + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    hidden = x.shape[-1]
    size = hidden // heads
    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        q = linear(x, w, p + "attention.self.query").reshape(length, heads, size).transpose(1, 0, 2)
        k = linear(x, w, p + "attention.self.key").reshape(length, heads, size).transpose(1, 0, 2)
        v = linear(x, w, p + "attention.self.value").reshape(length, heads, size).transpose(1, 0, 2)
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(size)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores = scores / scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(length, hidden)
        attention = linear(context, w, p + "attention.output.dense")
        x = layer_norm(attention + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        inner = gelu(linear(x, w, p + "intermediate.dense"))
        out = linear(inner, w, p + "output.dense")
        x = layer_norm(out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    return x


def main():
    model = sys.argv[1]
    config = json.load(open(os.path.join(model, "config.json")))
    weights_path = os.path.join(model, "model.safetensors")
    w = {k: v.astype(np.float64) for k, v in load_file(weights_path).items()}
    tokenizer = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    entries = []
    for text in TEXTS:
        ids = tokenizer.encode(text.strip()).ids
        tokens = bert(np.array(ids), w, config)
        mean = tokens.mean(0)  # one unpadded text: every token is under the mask
        vector = mean / max(np.linalg.norm(mean), 1e-12)
        entries.append({"text": text, "tokens": len(ids), "embedding": [float(f"{x:.8g}") for x in vector]})
    vectors = [np.array(e["embedding"]) for e in entries]
    cosines = [[round(float(a @ b), 6) for b in vectors] for a in vectors]
    sha = hashlib.sha256(open(weights_path, "rb").read()).hexdigest()
    out = {"model_sha256": sha, "max_tokens": MAX_TOKENS, "texts": entries, "cosines": cosines}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    for e in entries:
        print(e["tokens"], repr(e["text"][:50]))
    for row in cosines:
        print(" ".join(f"{c:6.3f}" for c in row))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Write examples/sentiment_train.csv and examples/sentiment_test.csv: short
product reviews labeled positive or negative, for llp-finetune's demo, test
and bench. Made up from templates and word lists (no outside data); the two
files share no text. Run from the repository root:
    python3 examples/sentiment_gen.py
Deterministic (seeded); the committed CSVs are its output.
"""
import csv
import random

rng = random.Random(2026)

things = ["blender", "kettle", "jacket", "phone case", "desk lamp", "backpack", "novel",
          "film", "hotel", "restaurant", "headphones", "keyboard", "toaster", "tent",
          "printer", "sofa", "watch", "camera", "bike", "coffee maker", "mattress",
          "umbrella", "game", "album", "charger", "vacuum", "pan", "scarf", "router", "mug"]
pos_adj = ["great", "excellent", "wonderful", "superb", "lovely", "fantastic", "perfect",
           "brilliant", "sturdy", "reliable", "delightful", "amazing", "solid", "pleasant"]
neg_adj = ["terrible", "awful", "broken", "useless", "flimsy", "poor", "horrible", "cheap",
           "disappointing", "faulty", "noisy", "dreadful", "bad", "shoddy"]
pos_verb = ["love", "adore", "recommend", "enjoy", "like"]
neg_verb = ["hate", "regret buying", "returned", "dislike", "want a refund for"]
pos_end = ["Works perfectly.", "Would buy again.", "Five stars.", "Very happy with it.",
           "Worth every penny.", "Highly recommended.", "It exceeded my hopes."]
neg_end = ["Stopped working in a week.", "Never again.", "One star.", "Very unhappy.",
           "A waste of money.", "Avoid it.", "It fell apart."]
filler = ["It arrived on Tuesday.", "I bought it for my sister.", "The box was blue.",
          "I used it every day.", "Delivery took four days.", "It came in a plain box.",
          "I got it last month.", "My neighbour has one too."]

templates = [
    "The {t} is {a}. {e}",
    "I {v} this {t}. {e}",
    "What a {a} {t}. {f} {e}",
    "{f} The {t} turned out {a}. {e}",
    "Honestly, a {a} {t}. I {v} it.",
    "This {t} is {a} and {a2}. {e}",
    "{e} The {t} is {a}.",
    "I {v} the {t}; it is {a}. {f}",
]


def review(label):
    adj, verb, end = (pos_adj, pos_verb, pos_end) if label == "positive" else \
                     (neg_adj, neg_verb, neg_end)
    tmpl = rng.choice(templates)
    a, a2 = rng.sample(adj, 2)
    return tmpl.format(t=rng.choice(things), a=a, a2=a2, v=rng.choice(verb),
                       e=rng.choice(end), f=rng.choice(filler))


def make(n, seen):
    rows = []
    while len(rows) < n:
        label = "positive" if len(rows) % 2 == 0 else "negative"
        text = review(label)
        if text in seen:
            continue
        seen.add(text)
        rows.append((text, label))
    rng.shuffle(rows)
    return rows


seen = set()
train = make(400, seen)
test = make(240, seen)
for name, rows, prefix in (("train", train, "tr"), ("test", test, "te")):
    with open(f"examples/sentiment_{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "review", "sentiment"])
        for i, (text, label) in enumerate(rows):
            w.writerow([f"{prefix}{i + 1:03d}", text, label])

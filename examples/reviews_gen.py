#!/usr/bin/env python3
# reviews_gen.py — writes examples/reviews.csv, the sample data for
# llp-classify, pipelines/sentiment.yaml and bench/classify_bench.sh:
# 240 short reviews of products, restaurants and films (positive, negative
# and neutral), some hand-written, the rest assembled from hand-written
# sentence parts. Fields with commas, doubled quotes and line breaks are
# included on purpose, to exercise RFC 4180 quoting.
#
# Not for: anything at run time; the CSV is committed. Re-running with the
# same seed gives the same file.
import csv
import random
import sys

random.seed(20240611)

HAND = [
    ("Moka pot, 6 cup", "kitchen", 5, 'Makes the best coffee I have had at home. Heavy, simple, no plastic parts to break.'),
    ("Moka pot, 6 cup", "kitchen", 2, 'The handle got loose after a month, and the gasket smells "like a tyre" every time it heats up.'),
    ("Trattoria Lucia", "restaurant", 5, 'Fresh pasta, a wine list that does not try too hard, and a waiter who remembered us from last year.'),
    ("Trattoria Lucia", "restaurant", 1, 'Waited fifty minutes for a lukewarm risotto.\nWhen we asked, the manager shrugged and said "Saturday, you know".'),
    ("The Long Harbour", "film", 4, 'Slow, patient, beautifully shot. The last twenty minutes, without a word of dialogue, are the best thing in it.'),
    ("The Long Harbour", "film", 2, 'Two and a half hours of fog, gulls and meaningful looks. I admired the camera work and checked my watch, often.'),
    ("Trail runner X2", "shoes", 3, 'Grip is fine on dry rock, so-so on mud. Sizing runs half a size small.'),
    ("Trail runner X2", "shoes", 5, 'After 600 km the soles still look new. Light, quick to dry, and they did not give me a single blister.'),
    ("Noise-cancelling headphones NC-40", "electronics", 1, 'Left ear cup died in week three. Support asked me to "try turning it off and on again", then stopped answering.'),
    ("Noise-cancelling headphones NC-40", "electronics", 4, 'Great on the train, good battery, average microphone. The case is huge, though.'),
    ("Noodle Bar 88", "restaurant", 3, 'Broth was rich, noodles a bit soft. Service quick, prices fair, nothing I would cross town for.'),
    ("Noodle Bar 88", "restaurant", 5, 'The spicy miso ramen is the real thing. I go every Thursday, and every Thursday it is just as good.'),
    ("Garden hose, 25 m", "garden", 2, 'Kinks constantly, no matter how you coil it. The "anti-kink" label is a joke.'),
    ("Garden hose, 25 m", "garden", 3, 'It is a hose. It carries water from one end to the other. Fittings are plastic.'),
    ("Paper Moons", "film", 5, 'Funny, sad and short, which is rarer than it should be. The child actors are wonderful.'),
    ("Paper Moons", "film", 1, 'Sentimental from the first frame to the last; the music tells you what to feel, in case you missed it.'),
    ("Cast-iron skillet, 26 cm", "kitchen", 5, 'Arrived pre-seasoned, heats evenly, and will outlive me. Fried eggs slide right off after a few uses.'),
    ("Cast-iron skillet, 26 cm", "kitchen", 3, 'Good pan, but heavy: 2.4 kg, so not for tossing vegetables one-handed.'),
    ("E-reader Lumen 6", "electronics", 4, 'The screen is crisp, the front light is even, and battery lasts weeks. Page turns lag a little.'),
    ("E-reader Lumen 6", "electronics", 2, 'Store is pushy, ads on the lock screen unless you pay, and the case scratches the frame.'),
    ("Café Merle", "restaurant", 4, 'Lovely croissants, strong coffee; tables too close together to have a private conversation.'),
    ("Café Merle", "restaurant", 2, 'Ordered "a light lunch" and got a salad with four leaves, a tomato, and a bill for 19 euros.'),
    ("Winter parka, navy", "clothing", 5, 'Warm at minus fifteen, pockets everywhere, hood that actually stays on in wind.'),
    ("Winter parka, navy", "clothing", 1, 'Zip broke on day two.\nReturned it; refund took six weeks and three emails.'),
    ("Last Train to Orla", "film", 3, 'A decent thriller with a silly ending. Fine for a Sunday evening, forgotten by Monday.'),
    ("Last Train to Orla", "film", 4, 'Tense and tidy, with a villain who is "polite, which is worse". Good popcorn film.'),
    ("Desk lamp, LED", "home", 3, 'Bright enough, three colour temperatures, touch switch sometimes needs two taps.'),
    ("Desk lamp, LED", "home", 1, 'Flickers at the lowest setting; gave me a headache within an hour.'),
    ("Bakery Kornblume", "restaurant", 5, 'Rye bread like my grandmother made, a crust you can hear, and the staff let my kid taste the pretzels.'),
    ("Bakery Kornblume", "restaurant", 3, 'Good bread, long queue, cash only. Plan accordingly.'),
    ("Robot vacuum R7", "home", 2, 'Gets stuck under the sofa, eats phone chargers, and the app wants my location "to improve service".'),
    ("Robot vacuum R7", "home", 4, 'Keeps the floors clean enough that I stopped thinking about them. Loud, but I run it when I am out.'),
    ("Hiking backpack, 38 L", "outdoor", 5, 'Carried 12 kg over three days and my shoulders were fine. Side pockets reachable with the pack on.'),
    ("Hiking backpack, 38 L", "outdoor", 3, 'Comfortable, well made, but the rain cover is sold separately, which feels cheap at this price.'),
    ("The Quiet Orchard", "film", 2, 'The trailer promised a ghost story; the film delivered a real-estate dispute, with ghosts "implied".'),
    ("The Quiet Orchard", "film", 5, 'I did not expect to cry at a film about apple trees. I did, twice.'),
    ("Blender Pro 900", "kitchen", 1, 'Smelled of burning plastic the first time, stopped working the fifth. Jar leaks at the base.'),
    ("Blender Pro 900", "kitchen", 4, 'Crushes ice, makes smooth soups, easy to clean. It is loud enough to wake the neighbours.'),
    ("Sushi Kaito", "restaurant", 5, 'Omakase was generous and precise; the chef explained every piece without a hint of showing off.'),
    ("Sushi Kaito", "restaurant", 2, 'Rice was cold and falling apart, fish fine. At these prices, "fine" is not enough.'),
]

PRODUCTS = {
    "kitchen": ["Chef's knife, 20 cm", "Electric kettle K2", "Pressure cooker, 6 L", "Salad spinner", "Pepper mill, oak"],
    "electronics": ["Bluetooth speaker Mini", "USB-C charger, 65 W", "Smartwatch Pulse", "Mechanical keyboard TKL", "Webcam HD 1080"],
    "restaurant": ["Taverna Kostas", "The Green Spoon", "Curry House Ravi", "Bistro du Coin", "Pho Saigon"],
    "film": ["Iron Tides", "A Small Country", "Midnight at the Mill", "The Cartographer", "Salt and Glass"],
    "clothing": ["Merino sweater", "Rain jacket, lightweight", "Wool socks, 3 pairs", "Linen shirt", "Denim jeans, straight"],
    "home": ["Bamboo bed sheets", "Air purifier A3", "Bookshelf, 5 tiers", "Blackout curtains", "Memory foam pillow"],
    "outdoor": ["Camping stove", "Headlamp 400 lm", "Two-person tent", "Water filter bottle", "Folding chair"],
}

OPEN = {
    "pos": ["Really pleased with this.", "Exactly what I hoped for.", "Better than expected.",
            "Five stars, no hesitation.", "I would buy it again tomorrow.", "A genuine pleasure."],
    "neg": ["Disappointed, sadly.", "Not worth the money.", "I regret this purchase.",
            "Avoid.", "What a letdown.", "I wanted to like it, I really did."],
    "neu": ["It is okay.", "Mixed feelings.", "Does the job, more or less.",
            "Neither good nor bad.", "About what you would expect.", "Fine, I suppose."],
}

BODY = {
    "kitchen": {
        "pos": ["It heats up fast and cleans in seconds.", "Sharp, balanced and comfortable in the hand.",
                "Solid build; nothing rattles or wobbles.", "Made weeknight cooking noticeably easier."],
        "neg": ["The coating started to peel within weeks.", "The lid never quite sits straight.",
                "It rusted after the first wash, even dried by hand.", "Instructions were missing, parts too."],
        "neu": ["Works, but the lid is fiddly.", "Decent, though smaller than the photos suggest.",
                "Cleaning takes longer than I would like.", "Performance is average for the price."],
    },
    "electronics": {
        "pos": ["Battery life is excellent, easily two days.", "Setup took two minutes, no app needed.",
                "Sound is clear and surprisingly full.", "Charges my laptop and phone at once without getting hot."],
        "neg": ["It disconnects every few minutes.", "The firmware update bricked it.",
                "Gets hot enough to worry me.", "Customer support never replied."],
        "neu": ["Does what it says, nothing more.", "Sound is fine, bass is weak.",
                "Build quality is average.", "The app is clunky but usable."],
    },
    "restaurant": {
        "pos": ["The staff were warm and attentive.", "Every dish arrived hot and beautifully seasoned.",
                "The dessert alone is worth the trip.", "Portions were generous and prices fair."],
        "neg": ["We waited forty minutes for cold food.", "The waiter was rude when we asked about allergens.",
                "The bill had two dishes we never ordered.", "The place smelled of old frying oil."],
        "neu": ["Food was fine, service slow.", "Nice room, forgettable menu.",
                "Good starters, bland mains.", "Busy and loud, but the food was decent."],
    },
    "film": {
        "pos": ["The lead performance is extraordinary.", "Gripping from start to finish.",
                "The script is sharp and genuinely funny.", "Gorgeous photography and a score that stays with you."],
        "neg": ["The plot makes no sense.", "Two hours I will never get back.",
                "Wooden acting and a lazy script.", "The twist was obvious from the first scene."],
        "neu": ["Watchable, but it drags in the middle.", "Some good scenes, some dull ones.",
                "A competent film that takes no risks.", "Good first half, weak ending."],
    },
    "clothing": {
        "pos": ["Fits perfectly and washes well.", "Warm, soft and not itchy at all.",
                "The stitching is excellent.", "Looks even better in person."],
        "neg": ["Shrank two sizes in the first wash.", "The colour ran and ruined a load of laundry.",
                "Seams came apart within a week.", "The fabric feels cheap and scratchy."],
        "neu": ["Fit is fine, colour slightly off.", "Comfortable, but runs a little large.",
                "Good for the price, nothing special.", "Okay quality; buttons feel loose."],
    },
    "home": {
        "pos": ["Assembly was easy and it feels sturdy.", "The room is noticeably quieter and darker.",
                "I sleep better since I got it.", "Looks great and was simple to set up."],
        "neg": ["Arrived with a cracked panel.", "Stopped working after a month.",
                "The smell took a week to go away.", "Screws were missing and the holes did not line up."],
        "neu": ["Fine once assembled, instructions poor.", "Does the job, looks a bit plain.",
                "Average quality, average price.", "A little noisy, otherwise fine."],
    },
    "outdoor": {
        "pos": ["Survived a week of rain without a drop inside.", "Light, packs small, sets up in minutes.",
                "Bright, comfortable, and the battery lasts.", "Rugged and well thought out."],
        "neg": ["A pole snapped on the first night.", "Leaked at the seams in light rain.",
                "The clip broke on day one.", "Far heavier than advertised."],
        "neu": ["Works, but heavier than I hoped.", "Fine for car camping, not for hiking.",
                "Does the job; the case is flimsy.", "Average, with a clever strap."],
    },
}

CLOSE = {
    "pos": ["Highly recommended.", "Would recommend to friends.", "Worth every cent.", ""],
    "neg": ["Returning it.", "Not recommended.", "Never again.", ""],
    "neu": ["Might buy again on sale.", "Your mileage may vary.", "Three stars feels right.", ""],
}

# Touches that need CSV quoting: commas, quotes, line breaks.
QUIRKS = [
    lambda s: s + ' My partner called it "the best thing we bought this year".',
    lambda s: s + ' In short: good, not great, and a bit "meh" on the details.',
    lambda s: s.replace('. ', '.\n', 1),
    lambda s: s + '\nEdit: still the same opinion, one month later.',
    lambda s: s + ' Pros: price, looks. Cons: size, weight, noise.',
    lambda s: s,
    lambda s: s,
    lambda s: s,
]


def stars_for(mood):
    return {"pos": random.choice([4, 5, 5]), "neg": random.choice([1, 1, 2]), "neu": 3}[mood]


def main(path):
    rows = [(p, c, s, r) for p, c, s, r in HAND]
    moods = ["pos", "neg", "neu"]
    seen = set(r for _, _, _, r in rows)
    while len(rows) < 240:
        cat = random.choice(sorted(PRODUCTS))
        mood = moods[len(rows) % 3]
        parts = [random.choice(OPEN[mood])]
        parts += random.sample(BODY[cat][mood], 2)
        close = random.choice(CLOSE[mood])
        if close:
            parts.append(close)
        text = random.choice(QUIRKS)(" ".join(parts))
        if text in seen:
            continue
        seen.add(text)
        rows.append((random.choice(PRODUCTS[cat]), cat, stars_for(mood), text))
    order = list(range(len(rows)))
    random.shuffle(order)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "product", "category", "review", "stars"])
        for i, k in enumerate(order):
            p, c, s, r = rows[k]
            w.writerow([f"r{i + 1:03d}", p, c, r, s])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "examples/reviews.csv")

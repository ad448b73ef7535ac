"""Small hand-made corpora for pipeline tests: distinct English prose that passes the filters."""
from __future__ import annotations

import random

SENTENCES = [
    "The committee met on Tuesday to review the budget for the coming year.",
    "Several members argued that the library needed longer opening hours.",
    "Rain fell across the northern hills for most of the afternoon.",
    "A small bakery on the corner sells bread that is still warm at dawn.",
    "Engineers tested the new bridge with trucks loaded with heavy gravel.",
    "The museum recently opened a gallery devoted to early photography.",
    "Children from the village school planted oak trees along the river bank.",
    "Her grandfather kept detailed notes about the weather in a leather diary.",
    "The football club announced that its stadium would be renovated next spring.",
    "Researchers measured the temperature of the lake every morning for a decade.",
    "Local farmers worry that the dry summer will reduce the wheat harvest.",
    "The orchestra performed a symphony that had not been heard for a century.",
    "Travellers often stop at the old inn to rest their horses and themselves.",
    "A new recipe for lentil soup became popular among the students that winter.",
    "The mayor promised to repair the roads before the first snow arrived.",
    "Volunteers cleaned the beach and collected several bags of plastic waste.",
    "His first novel describes a family of sailors living on a remote island.",
    "The company hired forty workers to build a factory near the railway station.",
    "Scientists believe the comet will be visible from the southern hemisphere.",
    "Tourists gathered in the square to watch the annual parade of lanterns.",
    "The teacher explained how ancient merchants crossed the desert with camels.",
    "Our neighbours painted their fence a bright shade of green last weekend.",
    "The hospital opened a clinic that offers free advice to young parents.",
    "Migrating birds rest in the marsh for a few days before flying south.",
    "The chess tournament attracted players from twelve different countries.",
    "Archaeologists uncovered pottery that may be three thousand years old.",
    "The train was delayed because a tree had fallen across the tracks.",
    "A group of friends opened a bookshop that also serves excellent coffee.",
    "Firefighters rescued a cat that had climbed to the top of a tall pine.",
    "The city council debated whether to ban cars from the historic centre.",
    "Her garden produces tomatoes, beans and pumpkins throughout the autumn.",
    "The astronomer spent many nights counting the moons of distant planets.",
    "Fishermen repaired their nets while waiting for the storm to pass.",
    "The students organised a concert to raise money for the animal shelter.",
    "A sudden frost damaged the vineyards on the eastern slope of the valley.",
    "The old lighthouse has guided ships safely into the harbour since 1850.",
    "Doctors recommend walking for at least thirty minutes every day.",
    "The baker taught his apprentice how to shape loaves by hand.",
    "Workers discovered a hidden room behind the wall of the old theatre.",
    "The river flooded the lower fields, but the houses remained dry.",
]


def prose(rng: random.Random, n_sentences: int = 9) -> str:
    picked = rng.sample(SENTENCES, n_sentences)
    paras = [" ".join(picked[i:i + 3]) for i in range(0, n_sentences, 3)]
    return "\n\n".join(paras)


def distinct_docs(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    docs: set[str] = set()
    while len(docs) < n:
        docs.add(prose(rng))
    return sorted(docs)

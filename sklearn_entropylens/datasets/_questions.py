"""Easy four-option questions written for the library (BSD-3-Clause), built from small fact tables.

Each fact gives a question and its answer; the three distractors are other answers of the same table,
drawn with a fixed seed, and the four options are shuffled with that seed too.
"""

import numpy as np

CAPITALS = [
    ("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Germany", "Berlin"), ("Spain", "Madrid"),
    ("the United Kingdom", "London"), ("Russia", "Moscow"), ("China", "Beijing"), ("Egypt", "Cairo"),
    ("Greece", "Athens"), ("Portugal", "Lisbon"), ("Austria", "Vienna"), ("Ireland", "Dublin"),
    ("Norway", "Oslo"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"), ("Denmark", "Copenhagen"),
    ("Poland", "Warsaw"), ("Hungary", "Budapest"), ("the Czech Republic", "Prague"), ("Belgium", "Brussels"),
    ("the Netherlands", "Amsterdam"), ("Canada", "Ottawa"), ("Mexico", "Mexico City"), ("Argentina", "Buenos Aires"),
    ("Peru", "Lima"), ("Chile", "Santiago"), ("Colombia", "Bogota"), ("Kenya", "Nairobi"), ("Thailand", "Bangkok"),
    ("South Korea", "Seoul"), ("India", "New Delhi"), ("Turkey", "Ankara"), ("Iran", "Tehran"),
    ("Australia", "Canberra"), ("Cuba", "Havana"), ("Vietnam", "Hanoi"), ("the Philippines", "Manila"),
    ("Indonesia", "Jakarta"), ("Ukraine", "Kyiv"),
]
OPPOSITES = [
    ("hot", "cold"), ("big", "small"), ("up", "down"), ("day", "night"), ("fast", "slow"), ("happy", "sad"),
    ("open", "closed"), ("light", "dark"), ("full", "empty"), ("old", "young"), ("wet", "dry"), ("hard", "soft"),
    ("early", "late"), ("tall", "short"), ("strong", "weak"), ("rich", "poor"), ("loud", "quiet"),
    ("clean", "dirty"), ("heavy", "light"), ("thick", "thin"), ("inside", "outside"), ("first", "last"),
    ("win", "lose"), ("push", "pull"), ("buy", "sell"), ("true", "false"), ("left", "right"), ("north", "south"),
    ("east", "west"), ("summer", "winter"), ("above", "below"), ("friend", "enemy"), ("begin", "end"),
    ("love", "hate"), ("sweet", "sour"), ("cheap", "expensive"), ("near", "far"), ("laugh", "cry"),
    ("question", "answer"), ("arrive", "leave"),
]
ANIMALS = [
    ("Which animal says moo?", "a cow"), ("Which animal barks?", "a dog"), ("Which animal meows?", "a cat"),
    ("Which animal says oink?", "a pig"), ("Which animal quacks?", "a duck"), ("Which animal neighs?", "a horse"),
    ("Which animal has a very long neck?", "a giraffe"), ("Which animal has a trunk?", "an elephant"),
    ("Which animal makes honey?", "a bee"), ("Which animal spins a web?", "a spider"),
    ("Which animal is the largest in the sea?", "a blue whale"), ("Which animal hops and has a pouch?", "a kangaroo"),
    ("Which animal is known as the king of the jungle?", "a lion"), ("Which bird cannot fly and lives in Antarctica?", "a penguin"),
    ("Which animal has black and white stripes?", "a zebra"), ("Which animal carries its house on its back?", "a snail"),
    ("Which animal says baa?", "a sheep"), ("Which animal hoots at night?", "an owl"),
    ("Which animal lays eggs and says cluck?", "a chicken"), ("Which animal changes colour to hide?", "a chameleon"),
]
COLOURS = [
    ("What colour is the sky on a clear day?", "blue"), ("What colour is grass?", "green"),
    ("What colour is snow?", "white"), ("What colour is a ripe banana?", "yellow"),
    ("What colour is coal?", "black"), ("What colour is a ripe tomato?", "red"),
    ("What colour do you get by mixing red and white?", "pink"), ("What colour is an orange?", "orange"),
    ("What colour do you get by mixing blue and yellow?", "green"), ("What colour is chocolate?", "brown"),
    ("What colour are most clouds?", "white"), ("What colour is a lemon?", "yellow"),
    ("What colour is a fire truck?", "red"), ("What colour is the night sky?", "black"),
    ("What colour are violets?", "purple"), ("What colour is milk?", "white"),
]
FACTS = [
    ("How many days are in a week?", "seven"), ("How many legs does a spider have?", "eight"),
    ("How many legs does a dog have?", "four"), ("How many hours are in a day?", "twenty-four"),
    ("How many months are in a year?", "twelve"), ("How many minutes are in an hour?", "sixty"),
    ("How many sides does a triangle have?", "three"), ("How many sides does a square have?", "four"),
    ("How many wheels does a bicycle have?", "two"), ("How many fingers are on one hand?", "five"),
    ("How many legs does an insect have?", "six"), ("How many continents are there?", "seven"),
    ("How many eyes do people have?", "two"), ("How many days are in a leap year?", "366"),
    ("Which planet do we live on?", "Earth"), ("What do bees make?", "honey"),
    ("What do cows give us to drink?", "milk"), ("What falls from clouds when it rains?", "water"),
    ("Which star gives Earth light during the day?", "the Sun"), ("What is frozen water called?", "ice"),
    ("Which season is the coldest?", "winter"), ("Which meal do people eat in the morning?", "breakfast"),
    ("Which organ pumps blood through the body?", "the heart"), ("What do plants need from the sun?", "light"),
    ("Which day comes after Monday?", "Tuesday"), ("Which day comes after Friday?", "Saturday"),
    ("Which month comes after January?", "February"), ("Which month comes after June?", "July"),
    ("What do we call a baby cat?", "a kitten"), ("What do we call a baby dog?", "a puppy"),
]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def draw_sum_or_difference(rng, low, high):
    """``(question, answer)``: the sum or (larger minus smaller) difference of two integers in ``[low, high)``."""
    a, b = (int(v) for v in rng.integers(low, high, size=2))
    if rng.random() < 0.5:
        return f"What is {a} + {b}?", a + b
    a, b = max(a, b), min(a, b)
    return f"What is {a} - {b}?", a - b


def _arithmetic(rng, n):
    items, seen = [], set()
    while len(items) < n:
        question, answer = draw_sum_or_difference(rng, 1, 10)
        if question in seen:
            continue
        seen.add(question)
        offsets = rng.choice([-3, -2, -1, 1, 2, 3], size=3, replace=False)
        distractors = [str(answer + int(o)) for o in offsets]
        items.append(("arithmetic", question, str(answer), distractors))
    return items


def _from_table(rng, category, pairs, ask):
    answers = sorted({answer for _, answer in pairs})
    items = []
    for subject, answer in pairs:
        pool = [other for other in answers if other != answer]
        distractors = [str(x) for x in rng.choice(pool, size=3, replace=False)]
        items.append((category, ask(subject), answer, distractors))
    return items


def build_questions(seed=0):
    """Return a list of (category, question, options, answer letter) tuples, seeded."""
    rng = np.random.default_rng(seed)
    items = []
    items += _from_table(rng, "capitals", CAPITALS, lambda country: f"What is the capital of {country}?")
    items += _from_table(rng, "opposites", OPPOSITES, lambda word: f"What is the opposite of '{word}'?")
    items += _from_table(rng, "animals", ANIMALS, lambda question: question)
    items += _from_table(rng, "colours", COLOURS, lambda question: question)
    items += _from_table(rng, "facts", FACTS, lambda question: question)
    items += _arithmetic(rng, 60)
    questions = []
    for category, question, answer, distractors in items:
        options = [answer] + distractors
        order = rng.permutation(4)
        shuffled = [options[i] for i in order]
        letter = "ABCD"[int(np.flatnonzero(order == 0)[0])]
        questions.append((category, question, shuffled, letter))
    return questions
